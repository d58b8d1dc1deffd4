"""The engine: fit (knows no task), callbacks and checkpoints."""
