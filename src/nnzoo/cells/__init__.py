"""The recurrent cell zoo: one cell per file, registered by name.

``create_cell("larnn", 9, 64, window=38)`` builds one; ``list_cells()`` names them all.
"""

from __future__ import annotations

from typing import Any

from nnzoo.cells import bn_lstm, elman, gru, gru_relevance, larnn, lstm, peephole_lstm
from nnzoo.cells.base import CellBase
from nnzoo.cells.registry import CELLS

__all__ = ["CELLS", "CellBase", "create_cell", "list_cells"]
_MODULES = (bn_lstm, elman, gru, gru_relevance, larnn, lstm, peephole_lstm)  # registered on import


def create_cell(name: str, input_size: int, hidden_size: int, **options: Any) -> CellBase:
    """Build the cell registered as ``name``; options set to None keep their defaults."""
    return CELLS.create(name, input_size, hidden_size, **options)


def list_cells() -> list[str]:
    """Names of every registered cell."""
    return CELLS.names()
