"""Runs: the run folder, train_run, and the process pool."""
