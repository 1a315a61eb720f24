"""What every fuzz test checks, and how many examples it tries.

CI runs a fixed, derandomized set of examples (`make test` stays fast and deterministic);
`CINELAKE_FUZZ_EXAMPLES=2000 make test` tries many more, still from fixed seeds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

from cinelake.cli import main
from cinelake.lake import layout

EXAMPLES = int(os.environ.get("CINELAKE_FUZZ_EXAMPLES", "0")) or None

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def examples(default: int) -> settings:
    """`default` examples in CI; CINELAKE_FUZZ_EXAMPLES examples when set."""
    return settings(FUZZ, max_examples=EXAMPLES or default)


def run_cli(argv: Sequence[str], env: dict[str, str]) -> tuple[int, str]:
    """`cinelake ARGV` in this process; returns the exit code and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv), environ=env)
        except SystemExit as exited:  # argparse: usage errors and --help
            code = exited.code if isinstance(exited.code, int) else 2
    return code, out.getvalue() + err.getvalue()


def assert_clean_outcome(code: int, output: str, *, verbose: bool = False) -> None:
    """`-v` shows the traceback of an error on purpose; without it, none is ever printed."""
    assert code in {0, 1, 2}, (code, output)
    if not verbose:
        assert "Traceback" not in output, output
    assert "unexpected " not in output, output  # an unmapped exception, even if one line


def assert_no_secret(texts: Iterable[str | bytes], secrets: Iterable[str]) -> None:
    marks = [s for s in secrets if s]
    for text in texts:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for mark in marks:
            assert mark not in shown, f"secret {mark!r} leaked: {shown[:500]!r}"


def lake_files(root: Path) -> dict[str, bytes]:
    """Every file of a local lake, its control folder included, by relative path."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def assert_lake_whole(root: Path) -> None:
    """No temporary file left behind, and every object under Raw/ listed by a manifest."""
    files = lake_files(root)
    leftovers = [name for name in files if name.startswith(".cinelake/tmp/")]
    assert leftovers == [], leftovers
    listed: set[str] = set()
    for name, data in files.items():
        if name.startswith("Raw/_manifests/"):
            listed.add(name)
            listed.update(o["key"] for o in json.loads(data).get("objects", []))
    for name in files:
        if name.startswith("Raw/") and not layout.is_control_key(name):
            assert name in listed, f"{name} landed but no manifest lists it"
        elif name.startswith(f"{layout.INDEX}/"):
            assert layout.data_key_of_index(name) in listed, f"{name} indexes an unlisted file"
