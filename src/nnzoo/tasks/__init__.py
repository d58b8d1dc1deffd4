"""Tasks: what depends on the kind of problem."""
