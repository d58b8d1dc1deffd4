"""A data root holding a tiny Fashion-MNIST in its original idx .gz format."""

import pytest

from tests.data.test_fashion_mnist import make_fashion


@pytest.fixture(scope="session")
def fashion_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    make_fashion(root / "fashion-mnist", per_class=(12, 2))  # 120 training (10 validate), 20 test
    return root


def study(capsys, *argv):
    """Run ``nnzoo study ...``; (exit code, stdout, stderr)."""
    from nnzoo.cli import main

    code = main(["study", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err
