"""The thread rule of a CPU run."""

import os

import pytest
import torch

from nnzoo.engine.runtime import default_threads, set_threads, threads_rule, usable_cores


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (16, 8), (64, 32)])
def test_half_the_cores_at_least_one(cores, threads):
    assert default_threads(cores) == threads


def test_usable_cores_are_the_affinity():
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_set_threads_applies_the_rule_or_the_request(restore_threads):
    assert set_threads(0) == torch.get_num_threads() == default_threads()
    assert set_threads(3) == torch.get_num_threads() == 3
    assert threads_rule(3, 3) == "3 (train.threads)"
    assert f"of the {usable_cores()} usable cores" in threads_rule(0, default_threads())
    with pytest.raises(ValueError, match="threads=-1"):
        set_threads(-1)
