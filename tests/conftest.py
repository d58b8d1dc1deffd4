import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tolerance(dtype: torch.dtype) -> dict:
    """The issue's bar: 1e-5 in float32, 1e-10 in float64."""
    return {"atol": 1e-5, "rtol": 0} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 0}


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (and are not slowed by a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
