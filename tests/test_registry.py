import pytest

import nnzoo
from nnzoo.registry import Registry


def test_none_options_keep_defaults_and_unknown_options_are_named():
    cell = nnzoo.create_cell("larnn", 3, 8, window=None, num_heads=2)
    assert cell.window == 16 and cell.num_heads == 2
    with pytest.raises(
        ValueError, match="cell 'gru' has no option 'window'; expected some of: bias"
    ):
        nnzoo.create_cell("gru", 3, 8, window=3)


def test_duplicate_registration_is_refused():
    registry = Registry("thing")
    registry.register("a")(dict)
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        registry.register("a")(list)
