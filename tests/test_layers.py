"""Dependencies point down: api and ops → exchange, ingest, public, portal → credit → validation (and stored
files). The contracts are [tool.importlinter] in pyproject.toml; a broken one is printed with the import chain."""

from pathlib import Path

from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_every_app_imports_only_the_layers_below_it():
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == EXIT_STATUS_SUCCESS
