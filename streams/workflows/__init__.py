"""Process managers: pure `decide(state, event)` functions and the runners that carry out
what they decide."""
