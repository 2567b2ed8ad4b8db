"""Orchestration: the steps of a run, each command's work, the launchers. This layer calls the
pure core (builder.core) and performs effects through builder.effects; it works on what
builder.session loaded, and only builder.cli sits above it."""
