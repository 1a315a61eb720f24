"""The package layout holds: imports flow down the layers and never in a circle.

The rules live in `tests/import_rules.py`; these tests run them on `src/` and show, on a
small package written for the purpose, that they catch what they are meant to catch.
"""

from __future__ import annotations

from pathlib import Path

from import_rules import circles, imports_of, violations

SRC = Path(__file__).resolve().parent.parent / "src"


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "cinelake" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_src_follows_every_import_rule() -> None:
    assert violations(SRC) == []


def test_a_lazy_import_back_into_the_cli_is_a_circle(tmp_path: Path) -> None:
    """The circle of cinelake 0.1: `cli.py` loaded `tmdb_cli.py`, which imported helpers back
    from `cli.py` inside its functions."""
    src = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "def groups():\n    from cinelake import tmdb_cli\n",
            "tmdb_cli.py": "def register():\n    from cinelake.cli import parse_date\n",
        },
    )

    assert circles(imports_of(src)) == [["cinelake.cli", "cinelake.tmdb_cli"]]


def test_a_service_importing_the_cli_breaks_the_layers(tmp_path: Path) -> None:
    src = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "cli/__init__.py": "",
            "cli/common.py": "",
            "tmdb/__init__.py": "",
            "tmdb/service.py": "from cinelake.cli.common import print_json\n",
        },
    )

    assert violations(src) == [
        "cinelake.tmdb.service (line 1) imports cinelake.cli.common: a service module may not "
        "import a shell module"
    ]


def test_the_two_ingestion_services_stay_apart(tmp_path: Path) -> None:
    src = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "csv_ingest/__init__.py": "",
            "csv_ingest/run.py": "",
            "tmdb/__init__.py": "",
            "tmdb/inputs.py": "from cinelake.csv_ingest import run\n",
        },
    )

    assert violations(src) == [
        "cinelake.tmdb.inputs (line 1) imports cinelake.csv_ingest.run: the two ingestion "
        "services stay apart"
    ]


def test_a_module_outside_every_layer_is_named(tmp_path: Path) -> None:
    src = write_package(tmp_path, {"__init__.py": "", "newcomer.py": ""})

    assert violations(src) == [
        "cinelake.newcomer: in no layer of tests/import_rules.py; add it to one"
    ]
