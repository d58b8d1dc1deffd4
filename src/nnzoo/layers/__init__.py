"""Layers: the scan (the only loop over time), bidirectional pairs, stacks, attention."""
