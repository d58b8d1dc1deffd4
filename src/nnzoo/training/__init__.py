"""Training: the fit loop, callbacks, metrics and checkpoints."""
