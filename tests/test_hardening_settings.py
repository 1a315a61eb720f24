"""Settings under attack: secrets with line breaks, quotes left open in `.env`, lake URLs that
would silently land somewhere else.

Every case is one line naming the setting, exit 2, no secret in any output, nothing created.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cinelake.cli import main
from cinelake.errors import ConfigError
from cinelake.logs import SecretFilter
from cinelake.settings import load_settings

ACCESS = "AKIAFUZZACCESSKEY01"
SECRET = "fuzzSECRETaccessKEY/with+symbols="


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv, environ={})
    out, err = capsys.readouterr()
    return code, out + err


def one_error_line(output: str, *names: str) -> str:
    [line] = output.strip().splitlines()
    assert line.startswith("cinelake: error: "), output
    for name in names:
        assert name in line, line
    return line


def write_env(folder: Path, text: str) -> Path:
    path = folder / ".env"
    path.write_text(text, encoding="utf-8")
    return path


# Secrets with control characters (item 4) ---------------------------------------------------


@pytest.mark.parametrize("name", ["aws_session_token", "aws_access_key_id", "TMDB_API_KEY"])
def test_a_secret_holding_a_line_break_is_refused_naming_the_variable_not_the_value(
    capsys: pytest.CaptureFixture[str], clean_env: Path, name: str
) -> None:
    pairs = {"aws_access_key_id": ACCESS, "aws_secret_access_key": SECRET}
    pairs[name] = "part1\\nSESSIONpart2"
    env = write_env(clean_env, "".join(f'{k}="{v}"\n' for k, v in pairs.items()))

    code, output = run(capsys, ["status", "--env-file", str(env), "--lake", "s3://lake1"])

    assert code == 2
    one_error_line(output, name, "line break")
    assert "SESSIONpart2" not in output
    assert "part1" not in output


def test_a_token_with_a_curly_quote_is_refused_before_any_request(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="TMDB_READ_ACCESS_TOKEN holds") as refused:
        load_settings(environ={"TMDB_READ_ACCESS_TOKEN": "eyJtoken\u2019"})
    assert "eyJtoken" not in str(refused.value)


@pytest.mark.parametrize(
    "message",
    [
        "Invalid header value {!r}",
        "{}",
        "payload {}",
    ],
)
def test_the_scrubber_removes_escaped_and_split_forms_of_a_multi_line_secret(
    message: str,
) -> None:
    secret = "part1-of-token\nSESSIONpart2-of-token"
    scrubber = SecretFilter([secret])
    for form in (secret.encode(), json.dumps(secret), secret):
        text = message.format(form)
        scrubbed = scrubber.scrub(text)
        assert "part1-of-token" not in scrubbed
        assert "SESSIONpart2-of-token" not in scrubbed


# Quotes left open in .env (items 5 and 10) --------------------------------------------------


def test_an_open_quote_that_swallows_the_keys_is_reported_naming_its_line_not_the_keys(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    env = write_env(
        clean_env,
        f'CINELAKE_PART_SIZE_MIB="16\naws_access_key_id={ACCESS}\naws_secret_access_key={SECRET}\n',
    )

    code, output = run(capsys, ["status", "--env-file", str(env)])

    assert code == 2
    one_error_line(output, "line 1", "CINELAKE_PART_SIZE_MIB", "quote")
    assert ACCESS not in output
    assert SECRET not in output


def test_another_tools_open_quote_swallowing_cinelake_settings_is_reported(
    clean_env: Path,
) -> None:
    env = write_env(clean_env, f"OTHER_TOOL='abc\naws_secret_access_key={SECRET}\n")
    with pytest.raises(ConfigError, match="line 1: the value of OTHER_TOOL") as refused:
        load_settings(environ={}, env_file=env)
    assert SECRET not in str(refused.value)


def test_another_tools_value_may_span_lines(clean_env: Path) -> None:
    env = write_env(clean_env, 'PEM="-----BEGIN-----\nabc\n-----END-----"\nCINELAKE_LAKE=here\n')
    assert load_settings(environ={}, env_file=env).lake == "here"


def test_a_bucket_setting_with_an_open_quote_is_an_error_not_the_default_lake(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    env = write_env(clean_env, "NOME_DO_BUCKET_S3='lake1\n")

    code, output = run(capsys, ["status", "--env-file", str(env)])

    assert code == 2
    one_error_line(output, "line 1", "NOME_DO_BUCKET_S3")
    assert not (clean_env / "lake").exists()


def test_a_value_error_never_echoes_a_value_that_spans_lines(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(
            environ={"CINELAKE_PART_SIZE_MIB": f"16\naws_secret_access_key={SECRET}"},
        )
    assert "CINELAKE_PART_SIZE_MIB" in str(refused.value)
    assert SECRET not in str(refused.value)
    assert "aws_secret_access_key" not in str(refused.value)


def test_a_settings_error_is_scrubbed_of_every_secret_set(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"TMDB_API_KEY": "abcd1234key", "CINELAKE_LOG_FORMAT": "abcd1234key"})
    assert "abcd1234key" not in str(refused.value)


# Lake URLs (item 10) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lake",
    [
        "S3://lake1",
        "s3:/lake1",
        " s3://lake1",
        "s3:lake1",
        "gs://lake1",
        "s3://lake1/../x",
        "s3://lake1//x",
        "s3://lake1/./x",
    ],
)
def test_a_lake_url_that_is_not_exactly_s3_is_refused_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], clean_env: Path, lake: str
) -> None:
    source = clean_env / "movies.csv"
    source.write_bytes(b"id|t\ntt1|a\n")

    code, output = run(
        capsys, ["ingest-csv", "--lake", lake, "--date", "2025-05-02", "--movies", str(source)]
    )

    assert code == 2
    one_error_line(output, "lake")
    assert sorted(p.name for p in clean_env.iterdir()) == ["movies.csv"]


def test_a_tilde_in_the_lake_setting_means_the_home_folder(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(clean_env / "home"))
    settings = load_settings(environ={"CINELAKE_LAKE": "~/x"})
    assert settings.lake == str(clean_env / "home" / "x")


def test_a_trailing_slash_after_the_bucket_is_harmless(clean_env: Path) -> None:
    assert load_settings(environ={"CINELAKE_LAKE": "s3://lake1/raw/"}).lake == "s3://lake1/raw"


@pytest.mark.parametrize("lake", ["s3://lake1/../x", "s3://lake1//x", "s3://lake1/a/./x"])
def test_a_prefix_with_dot_dot_or_empty_parts_is_refused(clean_env: Path, lake: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        load_settings(environ={"CINELAKE_LAKE": lake})
