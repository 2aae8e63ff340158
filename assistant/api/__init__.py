"""The assistant's HTTP entry point (the assistant-api process)."""
