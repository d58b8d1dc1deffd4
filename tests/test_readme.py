"""The README's examples run, and .ci/run calls exactly the README's two commands."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_two_commands_that_ci_runs():
    install, test = (b.strip() for b in blocks("bash")[:2])
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install in ci and test in ci
    assert "torch==2.13.0" in install


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run(index):
    exec(compile(blocks("python")[index], f"README.md python block {index}", "exec"), {})


def test_toml_examples_are_valid_configs():
    from nnzoo.config import config_from_toml

    examples = blocks("toml")
    assert examples
    for text in examples:
        config = config_from_toml(text, source="README.md")
        assert config.to_dict()["model"]["cell"] in __import__("nnzoo").list_cells()
