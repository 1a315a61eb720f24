"""Configuration: CLI option > environment > `.env`; the seed's names work as users have them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinelake.errors import ConfigError
from cinelake.settings import load_settings

pytestmark = pytest.mark.usefixtures("clean_env")


def write_env_file(folder: Path, text: str, name: str = ".env") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# Precedence -----------------------------------------------------------------------------------


def test_environment_beats_env_file_for_the_same_variable(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "NOME_DO_BUCKET_S3=from-file\n")
    settings = load_settings(environ={"NOME_DO_BUCKET_S3": "from-env"}, env_file=env_file)
    assert settings.lake == "s3://from-env"


def test_env_file_fills_what_the_environment_does_not_set(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "NOME_DO_BUCKET_S3=from-file\nREGIAO_DO_BUCKET=sa-east-1\n")
    settings = load_settings(environ={"NOME_DO_BUCKET_S3": "from-env"}, env_file=env_file)
    assert settings.region == "sa-east-1"


def test_cli_option_beats_environment_and_env_file(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "CINELAKE_LAKE=s3://from-file\n")
    settings = load_settings(
        environ={"CINELAKE_LAKE": "s3://from-env"},
        env_file=env_file,
        overrides={"lake": "s3://from-cli"},
    )
    assert settings.lake == "s3://from-cli"


def test_cli_option_left_unset_does_not_mask_the_environment() -> None:
    settings = load_settings(environ={"NOME_DO_BUCKET_S3": "from-env"}, overrides={"lake": None})
    assert settings.lake == "s3://from-env"


def test_dot_env_in_the_working_directory_is_read_by_default(clean_env: Path) -> None:
    write_env_file(clean_env, "NOME_DO_BUCKET_S3=from-dot-env\n")
    assert load_settings(environ={}).lake == "s3://from-dot-env"


def test_empty_environment_value_counts_as_unset(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "NOME_DO_BUCKET_S3=from-file\n")
    settings = load_settings(environ={"NOME_DO_BUCKET_S3": ""}, env_file=env_file)
    assert settings.lake == "s3://from-file"


def test_missing_env_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(ConfigError, match=r"--env-file .*nope\.env"):
        load_settings(environ={}, env_file=missing)


# The seed's names and the standard AWS names --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("CAMINHO_DO_ARQUIVO_LOCAL_MOVIES", "/data/movies.csv", "movies_path", "/data/movies.csv"),
        ("CAMINHO_DO_ARQUIVO_LOCAL_SERIES", "/data/series.csv", "series_path", "/data/series.csv"),
        ("NOME_DO_BUCKET_S3", "meu-bucket", "lake", "s3://meu-bucket"),
        ("REGIAO_DO_BUCKET", "us-east-1", "region", "us-east-1"),
        ("NOME_DO_PERFIL_SSO", "compass", "profile", "compass"),
        ("aws_access_key_id", "AKIASEED", "aws_access_key_id", "AKIASEED"),
        ("aws_session_token", "token-seed", "aws_session_token", "token-seed"),
    ],
)
def test_seed_variable_names_are_read_from_the_env_file(
    tmp_path: Path, name: str, value: str, attribute: str, expected: str
) -> None:
    extra = "" if name == "aws_access_key_id" else "aws_access_key_id=AKIASEED\n"
    env_file = write_env_file(
        tmp_path, f"{name}={value}\n{extra}aws_secret_access_key=seed-secret\n"
    )
    settings = load_settings(environ={}, env_file=env_file)
    actual = getattr(settings, attribute)
    assert (str(actual) if isinstance(actual, Path) else actual) == expected


def test_seed_secret_access_key_is_read_from_the_env_file(tmp_path: Path) -> None:
    env_file = write_env_file(
        tmp_path, "aws_access_key_id=AKIASEED\naws_secret_access_key=seed-secret\n"
    )
    assert load_settings(environ={}, env_file=env_file).aws_secret_access_key == "seed-secret"


@pytest.mark.parametrize(
    ("name", "value", "attribute"),
    [
        ("AWS_ACCESS_KEY_ID", "AKIAUPPER", "aws_access_key_id"),
        ("AWS_SECRET_ACCESS_KEY", "upper-secret", "aws_secret_access_key"),
        ("AWS_SESSION_TOKEN", "upper-token", "aws_session_token"),
        ("AWS_REGION", "eu-west-1", "region"),
        ("AWS_DEFAULT_REGION", "eu-west-2", "region"),
        ("AWS_PROFILE", "dev", "profile"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000", "endpoint_url"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9001", "endpoint_url"),
    ],
)
def test_standard_uppercase_aws_names_work(name: str, value: str, attribute: str) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKIAUPPER", "AWS_SECRET_ACCESS_KEY": "upper-secret"}
    settings = load_settings(environ={**environ, name: value})
    assert getattr(settings, attribute) == value


def test_s3_specific_endpoint_beats_the_generic_one() -> None:
    settings = load_settings(
        environ={"AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_S3": "http://s3:2"}
    )
    assert settings.endpoint_url == "http://s3:2"


def test_bucket_name_given_with_s3_scheme_is_accepted() -> None:
    assert (
        load_settings(environ={"NOME_DO_BUCKET_S3": "s3://meu-bucket/"}).lake == "s3://meu-bucket"
    )


def test_lake_with_prefix_is_kept() -> None:
    assert load_settings(environ={"CINELAKE_LAKE": "s3://b/some/prefix/"}).lake == (
        "s3://b/some/prefix"
    )


def test_no_bucket_anywhere_means_the_local_lake_folder() -> None:
    settings = load_settings(environ={})
    assert settings.lake == "lake"
    assert not settings.is_s3


def test_same_value_under_seed_name_and_alias_is_not_a_contradiction() -> None:
    settings = load_settings(environ={"NOME_DO_BUCKET_S3": "b", "CINELAKE_BUCKET": "b"})
    assert settings.lake == "s3://b"


# Contradictions and incomplete settings -------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "alias"),
    [
        ("NOME_DO_BUCKET_S3", "CINELAKE_BUCKET"),
        ("CAMINHO_DO_ARQUIVO_LOCAL_MOVIES", "CINELAKE_MOVIES_PATH"),
        ("CAMINHO_DO_ARQUIVO_LOCAL_SERIES", "CINELAKE_SERIES_PATH"),
        ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("aws_session_token", "AWS_SESSION_TOKEN"),
    ],
)
def test_seed_name_and_alias_with_different_values_is_an_error_naming_both_without_values(
    seed: str, alias: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={seed: "value-one-1234", alias: "value-two-5678"})
    message = str(caught.value)
    assert seed in message
    assert alias in message
    assert "value-one-1234" not in message
    assert "value-two-5678" not in message
    assert "\n" not in message


def test_contradiction_between_env_file_and_environment_is_an_error(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "aws_secret_access_key=file-secret\naws_access_key_id=K\n")
    with pytest.raises(ConfigError, match=r"aws_secret_access_key.*AWS_SECRET_ACCESS_KEY"):
        load_settings(
            environ={"AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_ACCESS_KEY_ID": "K"},
            env_file=env_file,
        )


def test_profile_in_the_environment_contradicting_the_env_file_is_an_error(
    tmp_path: Path,
) -> None:
    env_file = write_env_file(tmp_path, "NOME_DO_PERFIL_SSO=dev-account\n")
    with pytest.raises(ConfigError, match=r"NOME_DO_PERFIL_SSO and AWS_PROFILE"):
        load_settings(environ={"AWS_PROFILE": "prod-account"}, env_file=env_file)


def test_bucket_region_wins_over_a_shell_wide_aws_region(tmp_path: Path) -> None:
    env_file = write_env_file(tmp_path, "REGIAO_DO_BUCKET=sa-east-1\n")
    settings = load_settings(environ={"AWS_REGION": "us-east-1"}, env_file=env_file)
    assert settings.region == "sa-east-1"


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("CAMINHO_DO_ARQUIVO_LOCAL_MOVIE", "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES"),
        ("NOME_DO_BUCKET", "NOME_DO_BUCKET_S3"),
        ("aws_secret_acess_key", "aws_secret_access_key"),
        (
            "CAMINHO_DO_ARQUIVO_LOCAL_FILMES",
            "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES or CAMINHO_DO_ARQUIVO_LOCAL_SERIES",
        ),
    ],
)
def test_a_misspelt_name_in_the_env_file_is_warned_about_without_its_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, meant: str
) -> None:
    from cinelake.cli import main

    env_file = write_env_file(tmp_path, f"{written}=value-never-shown\nDATABASE_URL=other-tool\n")
    (tmp_path / "lake").mkdir()

    main(["status", "--env-file", str(env_file), "--lake", str(tmp_path / "lake")], environ={})

    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"cinelake: warning: {env_file}: {written} is not a setting cinelake reads; "
        f"did you mean {meant}?"
    ]


@pytest.mark.parametrize("name", ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SQS", "DATABASE_URL"])
def test_names_of_other_tools_in_the_env_file_get_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    from cinelake.cli import main

    env_file = write_env_file(tmp_path, f"{name}=http://localhost:4566\n")
    (tmp_path / "lake").mkdir()

    main(["status", "--env-file", str(env_file), "--lake", str(tmp_path / "lake")], environ={})

    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("region", ["São Paulo", "sa east 1", "123"])
def test_a_region_that_is_not_a_region_code_is_an_error_naming_the_variable(region: str) -> None:
    from cinelake.store import open_store

    settings = load_settings(environ={"REGIAO_DO_BUCKET": region, "NOME_DO_BUCKET_S3": "b"})
    with pytest.raises(ConfigError, match=r"REGIAO_DO_BUCKET.*is not a region code.*sa-east-1"):
        open_store(settings, check=False)


def test_a_region_is_not_judged_when_the_lake_is_a_folder(tmp_path: Path) -> None:
    """A shell-wide AWS_DEFAULT_REGION of another tool must not stop a local run."""
    from cinelake.store import open_store

    settings = load_settings(environ={"AWS_DEFAULT_REGION": "Not A Region"})
    open_store(settings, check=False)


@pytest.mark.parametrize("lake", ["s3://bad bucket", "s3://bucket?x=1/prefix"])
def test_unusable_bucket_name_is_an_error_naming_where_it_comes_from(lake: str) -> None:
    with pytest.raises(ConfigError, match=r"not a valid bucket name.*") as caught:
        load_settings(environ={}, overrides={"lake": lake})
    assert "NOME_DO_BUCKET_S3" in str(caught.value)


def test_unknown_log_format_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"CINELAKE_LOG_FORMAT 'xml': use text or json"):
        load_settings(environ={"CINELAKE_LOG_FORMAT": "xml"})


def test_endpoint_without_a_scheme_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"AWS_ENDPOINT_URL_S3.*http://localhost:9000"):
        load_settings(environ={"AWS_ENDPOINT_URL_S3": "localhost:9000"})


def test_access_key_without_secret_is_an_error_naming_the_missing_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"aws_access_key_id": "AKIALONEKEY"})
    assert "aws_secret_access_key is not set" in str(caught.value)
    assert "AKIALONEKEY" not in str(caught.value)


def test_secret_without_access_key_is_an_error_naming_the_missing_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"AWS_SECRET_ACCESS_KEY": "lonely-secret-value"})
    assert "aws_access_key_id is not set" in str(caught.value)
    assert "lonely-secret-value" not in str(caught.value)


def test_lake_naming_no_bucket_is_an_error() -> None:
    with pytest.raises(ConfigError, match="names no bucket"):
        load_settings(environ={}, overrides={"lake": "s3://"})


@pytest.mark.parametrize("value", ["0", "-5", "five"])
def test_part_size_that_is_not_a_positive_integer_is_an_error_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match="CINELAKE_PART_SIZE_MIB"):
        load_settings(environ={"CINELAKE_PART_SIZE_MIB": value})


# Secrets --------------------------------------------------------------------------------------


def test_secrets_are_not_in_the_settings_repr() -> None:
    settings = load_settings(
        environ={
            "aws_access_key_id": "AKIAREPRKEYID",
            "aws_secret_access_key": "repr-secret-value",
            "aws_session_token": "repr-session-token",
            "TMDB_API_KEY": "repr-tmdb-key",
        }
    )
    shown = repr(settings)
    for secret in ("AKIAREPRKEYID", "repr-secret-value", "repr-session-token", "repr-tmdb-key"):
        assert secret not in shown
    assert set(settings.secrets()) >= {"repr-secret-value", "repr-session-token"}


def test_lambda_ignores_static_keys() -> None:
    settings = load_settings(
        environ={"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"},
        ignore_static_aws_keys=True,
    )
    assert settings.aws_access_key_id is None
    assert settings.aws_secret_access_key is None
