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
    # Besides them, .ci/run only sets up: shell options, the folder, the browser for the
    # browser tests and PostgreSQL for the search workers' tests (installed before the README's
    # commands run them), environment variables.
    commands = [line for line in ci if line.strip() and not line.startswith("#")]
    setup = commands[: commands.index(install)]
    assert commands[commands.index(install) :] == [install, test]
    assert setup[:2] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."']
    installs = [line for line in setup[2:] if "apt-get install" in line]
    assert len(installs) == 2 and "chromium" in installs[0] and "postgresql" in installs[1]
    assert all(line.startswith("export ") for line in setup[2:] if line not in installs), setup


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run(index):
    exec(compile(blocks("python")[index], f"README.md python block {index}", "exec"), {})


def test_toml_examples_are_valid_configs():
    from nnzoo.config import config_from_toml
    from nnzoo.models import check_model

    examples = blocks("toml")
    assert examples
    for text in examples:
        config = config_from_toml(text, source="README.md")
        assert config.model.option("cell") in __import__("nnzoo").list_cells()
        check_model(config.model)  # the model takes every option the example gives it
