"""nnzoo: a zoo of recurrent cells and deep networks, and a lab to train and compare them."""

from nnzoo.cells import create_cell, list_cells
from nnzoo.cells.base import CellBase
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.layers.bidirectional import Bidirectional, BiState
from nnzoo.layers.recurrent import Recurrent
from nnzoo.layers.scan import unroll

__version__ = "0.1.0"
__all__ = [
    "BiState",
    "Bidirectional",
    "CellBase",
    "ConfigError",
    "NnzooError",
    "Recurrent",
    "create_cell",
    "list_cells",
    "unroll",
]
