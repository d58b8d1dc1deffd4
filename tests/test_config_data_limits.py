"""A generated dataset too large to hold is refused before it is drawn.

The reference for each dataset's declared values per row is the data it really draws: with
every row at its longest, the drawn tensors hold exactly rows x row_values values.
"""

import time

import pytest

from nnzoo.data import GENERATED, load_dataset
from nnzoo.data import synthetic as synthetic_module
from nnzoo.data.tokens import StepSequences, TokenPairs
from nnzoo.errors import ConfigError

SIZES = {"train_size": 6, "val_size": 3, "test_size": 2}
LONGEST = {  # options that make every row as long as any can be
    "first-symbol": {"length": 7, "symbols": 3},
    "adding": {"length": 9},
    "copy-reverse": {"symbols": 5, "min_length": 4, "max_length": 4},
    "cycles": {"min_length": 5, "max_length": 5},
    "cycles-multi-hot": {"kind": "multi-hot", "symbols": 12, "min_length": 3, "max_length": 3},
    "moons": {},
    "circles": {},
    "flower": {},
}


def dataset_options(key):
    name = "cycles" if key.startswith("cycles") else key
    return name, {**SIZES, **LONGEST[key]}


def values_of(part):
    """The values the features of a drawn part hold (labels and lengths aside)."""
    if isinstance(part, TokenPairs):
        return part.src.numel() + part.tgt.numel()
    if isinstance(part, StepSequences):
        return part.x.numel()
    return part.x.numel()


def drawn_values(name, options):
    splits = load_dataset(name, **options)
    return sum(values_of(p) for p in (splits.train, splits.val, splits.test))


def test_every_generated_dataset_is_covered():
    assert {dataset_options(key)[0] for key in LONGEST} == GENERATED


@pytest.mark.parametrize("key", list(LONGEST))
def test_the_bound_counts_exactly_the_values_drawn(key, monkeypatch):
    name, options = dataset_options(key)
    total = drawn_values(name, options)
    assert total > 0
    monkeypatch.setattr(synthetic_module, "MAX_VALUES", total)
    assert drawn_values(name, options) == total  # at the bound: drawn
    monkeypatch.setattr(synthetic_module, "MAX_VALUES", total - 1)
    with pytest.raises(ConfigError) as info:
        load_dataset(name, **options)
    text = str(info.value)
    rows = sum(SIZES.values())
    assert text.startswith(f"data {name}: {rows} rows x {total // rows} values each = {total} ")
    assert f"above the limit of {total - 1:,}; lower data.options.train_size (now 6)" in text


def test_a_trillion_rows_are_refused_at_once():
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_dataset("first-symbol", train_size=10**12, length=3)
    assert time.perf_counter() - started < 5  # nothing was drawn
    text = str(info.value)
    rows = 10**12 + 200 + 1000  # the default val_size and test_size
    assert text.startswith(f"data first-symbol: {rows:,} rows x 15 values each = {rows * 15:,}")
    assert "above the limit of 1,000,000,000" in text
    assert "lower data.options.train_size (now 1000000000000)" in text
    assert "data.options.length (now 3) or data.options.symbols (now 4)" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("name", "options", "needle"),
    [
        ("first-symbol", {"symbols": 10**9}, "data.options.symbols (now 1000000000)"),
        ("adding", {"length": 10**10}, "or data.options.length (now 10000000000)"),
        ("copy-reverse", {"max_length": 10**9}, "or data.options.max_length (now 1000000000)"),
        ("cycles", {"kind": "multi-hot", "symbols": 10**8}, "data.options.symbols (now 100000000)"),
    ],
)
def test_rows_too_wide_are_refused_naming_the_option(name, options, needle):
    with pytest.raises(ConfigError, match="above the limit of 1,000,000,000") as info:
        load_dataset(name, **options)
    assert needle in str(info.value)
