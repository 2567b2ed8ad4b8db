"""The pure core: loading, expanding, planning, keys, rendering, judging and indexing.

Nothing here runs a process, opens a socket or writes a file (ruff's banned imports in
pyproject.toml keep builder.effects and builder.run out); every function returns data.
"""
