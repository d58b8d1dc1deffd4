"""The cell registry: ``@CELLS.register(name)`` on each cell class."""

from nnzoo.registry import Registry

CELLS: Registry = Registry("cell")
