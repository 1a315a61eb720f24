"""Configuration read once, in one place: CLI option > environment > `.env` file.

Nothing else in cinelake reads `os.environ`. The shells build a `Settings` and hand it down,
so the core can be driven by tests, the CLI and Lambda alike.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from cinelake import env_names
from cinelake.errors import ConfigError
from cinelake.logs import SecretFilter

log = logging.getLogger(__name__)

DEFAULT_LAKE = "lake"
DEFAULT_TMDB_BASE_URL = "https://api.themoviedb.org/3"

# Names where a seed name and its alias disagreeing is a contradiction, not a preference:
# landing in the wrong bucket or account, or signing with the wrong key, is worse than
# stopping. REGIAO_DO_BUCKET is not among them: it names the bucket's region, which may
# rightly differ from the shell's or the Lambda's AWS_REGION, so it wins wherever it is set.
_MUST_AGREE = (
    env_names.MOVIES_PATH,
    env_names.SERIES_PATH,
    env_names.BUCKET,
    env_names.PROFILE,
    env_names.ACCESS_KEY_ID,
    env_names.SECRET_ACCESS_KEY,
    env_names.SESSION_TOKEN,
    env_names.TMDB_API_KEY,
)


@dataclass(frozen=True)
class Settings:
    """Every setting a command may need; secrets are kept out of `repr`."""

    lake: str = DEFAULT_LAKE
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    movies_path: Path | None = None
    series_path: Path | None = None
    tmdb_base_url: str = DEFAULT_TMDB_BASE_URL
    tmdb_secret_id: str | None = None
    tmdb_parameter_name: str | None = None
    log_format: str | None = None
    part_size_mib: int | None = None
    max_concurrency: int | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    tmdb_api_key: str | None = field(default=None, repr=False)
    tmdb_read_token: str | None = field(default=None, repr=False)

    @property
    def is_s3(self) -> bool:
        return self.lake.startswith("s3://")

    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach a log, a manifest or an exception message."""
        values = (
            self.aws_access_key_id,
            self.aws_secret_access_key,
            self.aws_session_token,
            self.tmdb_api_key,
            self.tmdb_read_token,
        )
        return tuple(v for v in values if v)


def load_settings(
    *,
    environ: Mapping[str, str],
    env_file: Path | None = None,
    overrides: Mapping[str, str | None] | None = None,
    ignore_static_aws_keys: bool = False,
) -> Settings:
    """Build `Settings` from the three sources, checking contradictions once.

    `env_file` defaults to `./.env` when it exists; an explicit path that does not exist is a
    configuration error. `overrides` are CLI options keyed by `Settings` field name.
    `ignore_static_aws_keys` is for Lambda, where only the execution role may grant access.
    """
    file_values = _read_env_file(env_file)
    merged: dict[str, str] = {k: v for k, v in file_values.items() if v is not None}
    merged.update({k: v for k, v in environ.items() if v != ""})
    try:
        return _settings(merged, overrides, ignore_static_aws_keys)
    except ConfigError as exc:
        # Raised before any scrubber knows the secrets: scrub with every value set for them.
        scrubber = SecretFilter(v for k, v in merged.items() if k in env_names.SECRET_NAMES)
        raise ConfigError(scrubber.scrub(str(exc))) from None


def _settings(
    merged: Mapping[str, str],
    overrides: Mapping[str, str | None] | None,
    ignore_static_aws_keys: bool,
) -> Settings:
    aws_keys = (env_names.ACCESS_KEY_ID, env_names.SECRET_ACCESS_KEY, env_names.SESSION_TOKEN)
    for names in _MUST_AGREE:
        if not (ignore_static_aws_keys and names in aws_keys):
            _check_agreement(names, merged)

    def pick(names: tuple[str, ...]) -> str | None:
        for name in names:
            value = merged.get(name)
            if value:
                return value.strip()
        return None

    def credential(names: tuple[str, ...]) -> str | None:
        value = pick(names)
        if value:
            check_credential(next(n for n in names if merged.get(n)), value)
        return value

    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    access_key = credential(env_names.ACCESS_KEY_ID)
    secret_key = credential(env_names.SECRET_ACCESS_KEY)
    session_token = credential(env_names.SESSION_TOKEN)
    if ignore_static_aws_keys:
        # Lambda itself exports the role's AWS_* credentials, which boto3 reads on its own;
        # only the seed's lowercase keys are someone pasting long-lived keys into the function.
        seed_keys = (env_names.ACCESS_KEY_ID[0], env_names.SECRET_ACCESS_KEY[0])
        if any(merged.get(name) for name in seed_keys):
            log.warning(
                "ignoring aws_access_key_id-style variables: on Lambda only the execution "
                "role grants access",
                extra={"event": "config.static_keys_ignored"},
            )
        access_key = secret_key = session_token = None
    elif bool(access_key) != bool(secret_key):
        missing = "aws_secret_access_key" if access_key else "aws_access_key_id"
        raise ConfigError(
            f"{missing} is not set but its pair is: set both aws_access_key_id and "
            "aws_secret_access_key, or neither to use the default credential chain"
        )

    lake = cli.get("lake") or pick(env_names.LAKE)
    if not lake:
        bucket = pick(env_names.BUCKET)
        lake = _bucket_to_lake(bucket) if bucket else DEFAULT_LAKE

    return Settings(
        lake=_normalise_lake(lake),
        region=cli.get("region") or pick(env_names.REGION),
        profile=cli.get("profile") or pick(env_names.PROFILE),
        endpoint_url=_endpoint(cli.get("endpoint_url") or pick(env_names.ENDPOINT_URL)),
        movies_path=_path(cli.get("movies_path") or pick(env_names.MOVIES_PATH)),
        series_path=_path(cli.get("series_path") or pick(env_names.SERIES_PATH)),
        tmdb_base_url=(
            cli.get("tmdb_base_url") or pick(env_names.TMDB_BASE_URL) or DEFAULT_TMDB_BASE_URL
        ).rstrip("/"),
        tmdb_secret_id=pick(env_names.TMDB_SECRET_ID),
        tmdb_parameter_name=pick(env_names.TMDB_PARAMETER_NAME),
        log_format=_log_format(cli.get("log_format") or pick(env_names.LOG_FORMAT)),
        part_size_mib=_positive_int(env_names.PART_SIZE_MIB[0], pick(env_names.PART_SIZE_MIB)),
        max_concurrency=_positive_int(
            env_names.MAX_CONCURRENCY[0], pick(env_names.MAX_CONCURRENCY)
        ),
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        tmdb_api_key=credential(env_names.TMDB_API_KEY),
        tmdb_read_token=credential(env_names.TMDB_READ_ACCESS_TOKEN),
    )


def _read_env_file(env_file: Path | None) -> Mapping[str, str | None]:
    if env_file is None:
        env_file = Path(".env")
        if not env_file.is_file():
            return {}
    elif not env_file.is_file():
        raise ConfigError(f"--env-file {env_file}: no such file; pass an existing .env file")
    try:
        _check_quotes(env_file, env_file.read_text(encoding="utf-8"))
        values = dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file}: not UTF-8 text; save the .env file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(
            f"{env_file}: cannot be read ({exc.strerror}); fix its permissions"
        ) from None
    _warn_about_misspelt_names(env_file, values)
    return values


_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(['\"])(.*)")
_CLOSES = {"'": re.compile(r"(?:\\'|[^'])*'"), '"': re.compile(r'(?:\\"|[^"])*"')}
"""python-dotenv's own rule for a quoted value, so both read the same lines the same way."""
_HEADER_SAFE = re.compile(r"[\x20-\x7e]+")


def _check_quotes(env_file: Path, text: str) -> None:
    """python-dotenv reads a quote left open across lines, taking the next settings (secrets
    among them) into the value, or drops it with a warning that names no setting.

    Cinelake's settings are one line each: an open quote in one of them is an error. Another
    tool's value may span lines, unless our settings would be swallowed into it.
    """
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        found = _ASSIGNMENT.match(line)
        if found is None:
            continue
        name, quote, rest = found.groups()
        if _CLOSES[quote].match(rest):
            continue
        ours = name in env_names.EVERY_NAME
        swallowed = []
        for later in lines[number:]:
            if quote in later:
                break
            assigned = _ASSIGNMENT.match(later) or re.match(r"\s*([A-Za-z_][A-Za-z0-9_.]*)=", later)
            if assigned and assigned.group(1) in env_names.EVERY_NAME:
                swallowed.append(assigned.group(1))
        if ours or swallowed:
            taken = (
                f", and {', '.join(swallowed)} on the next lines would be read as part of it"
                if swallowed
                else ""
            )
            raise ConfigError(
                f"{env_file} line {number}: the value of {name} opens a {quote} quote that is "
                f"not closed on that line{taken}; close the quote"
            )


_MISSPELT = 0.85
"""How alike (difflib's ratio) a name must be to one of ours to be taken for a misspelling."""


def _warn_about_misspelt_names(env_file: Path, values: Mapping[str, str | None]) -> None:
    """A misspelt name is silently unset (a movies path, a bucket: the run then lands elsewhere
    or less); names unlike any of ours belong to other tools and are left alone."""
    for name in values:
        # botocore reads AWS_ENDPOINT_URL_<SERVICE> for every service: not ours to judge.
        if name in env_names.EVERY_NAME or name.startswith("AWS_ENDPOINT_URL_"):
            continue
        scores = {k: difflib.SequenceMatcher(None, name, k).ratio() for k in env_names.EVERY_NAME}
        best = max(scores.values())
        if best < _MISSPELT:
            continue
        # `..._LOCAL_FILMES` is as close to MOVIES as to SERIES: name both, never guess.
        meant = sorted(k for k, score in scores.items() if score >= best - 0.02)
        log.warning(
            "%s: %s is not a setting cinelake reads; did you mean %s?",
            env_file,
            name,
            " or ".join(meant),
            extra={"event": "config.misspelt_name"},
        )


def _check_agreement(names: tuple[str, ...], values: Mapping[str, str]) -> None:
    present = {n: values[n].strip() for n in names if values.get(n, "").strip()}
    if len(set(present.values())) > 1:
        listed = " and ".join(present)
        raise ConfigError(
            f"{listed} are both set with different values; keep one of them (values not shown)"
        )


def _bucket_to_lake(bucket: str) -> str:
    bucket = bucket.strip()
    return bucket if bucket.lower().startswith("s3:") else f"s3://{bucket}"


_LAKE_ORIGIN = "(from --lake, CINELAKE_LAKE or NOME_DO_BUCKET_S3)"


def _normalise_lake(lake: str) -> str:
    """An S3 URL or a local folder; anything that looks like a URL but is not exactly
    `s3://` would otherwise become a local folder of that name, and the run land there."""
    if lake != lake.strip():
        raise ConfigError(f"lake {shown(lake)} {_LAKE_ORIGIN} has spaces around it; remove them")
    if lake.startswith("s3://"):
        return _s3_lake(lake[len("s3://") :].rstrip("/"))
    if lake.lower().startswith("s3:") or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/", lake):
        raise ConfigError(
            f"lake {shown(lake)} {_LAKE_ORIGIN} is not s3://BUCKET[/PREFIX] (lowercase, two "
            "slashes) nor a local folder; write it as s3://BUCKET or a folder path"
        )
    return str(Path(lake).expanduser())


def _s3_lake(rest: str) -> str:
    if not rest:
        raise ConfigError("--lake s3:// names no bucket; use s3://BUCKET[/PREFIX]")
    bucket, _, prefix = rest.partition("/")
    # botocore's own rule (it admits legacy names); anything else fails deep in a call.
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,255}", bucket):
        raise ConfigError(
            f"bucket {shown(bucket)} {_LAKE_ORIGIN} is not a valid bucket name; use lowercase "
            "letters, digits, dots and hyphens"
        )
    if prefix and any(part in {"", ".", ".."} for part in prefix.split("/")):
        raise ConfigError(
            f"lake s3://{shown(rest)[1:-1]} {_LAKE_ORIGIN}: the prefix has an empty, '.' or '..' "
            "part, which S3 keeps literally; write it as s3://BUCKET/a/b"
        )
    return f"s3://{rest}"


def shown(value: str) -> str:
    """A value as an error may quote it: never one that spans lines or holds other settings
    (an open quote in .env swallows the lines after it, secrets included)."""
    if len(value) > 200 or not value.isprintable() or "=" in value:
        return "(value not shown: it spans lines or holds other settings; is a quote left open?)"
    return repr(value)


def _log_format(value: str | None) -> str | None:
    if value is not None and value not in {"text", "json"}:
        raise ConfigError(f"CINELAKE_LOG_FORMAT {shown(value)}: use text or json")
    return value


def _endpoint(value: str | None) -> str | None:
    if value and not re.match(r"https?://[^/\s]", value):
        raise ConfigError(
            f"AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL {shown(value)} is not a URL; write it with "
            "its scheme, e.g. http://localhost:9000"
        )
    return value


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _positive_int(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"{name}={shown(value)} is not a positive integer; fix or unset it")
    return number


def check_credential(name: str, value: str) -> str:
    """A secret goes into an HTTP header or a signature: a line break or a non-ASCII character
    would fail deep in a library, in a message that quotes it. Refused naming `name` only."""
    if not _HEADER_SAFE.fullmatch(value):
        raise ConfigError(
            f"{name} holds a line break, a control character or a non-ASCII character (a "
            "curly quote?); retype it as plain text on one line (value not shown)"
        )
    return value
