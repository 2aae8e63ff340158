"""Pure logic of the assistant: no I/O, no clock, no driver imports."""
