"""The learning assistant: grounded answers to students' questions about a course."""
