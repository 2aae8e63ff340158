"""The read side's logic: pure folds per read model, the PostgreSQL sink, and the replay engine.

Start at `projections/sink.py`: its docstring lists the public API. `docs/read-models.md` is
the table contract and `docs/adr/0004-read-side-checkpoints-watermarks-blue-green.md` the rules.
"""
