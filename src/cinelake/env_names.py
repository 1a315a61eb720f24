"""The environment variable names, in one place, because users already have `.env` files.

Seed names are the Portuguese names the Compass UOL track taught; each has an English alias.
When both a seed name and its alias are set with different values, that is a contradiction.
"""

from __future__ import annotations

MOVIES_PATH = ("CAMINHO_DO_ARQUIVO_LOCAL_MOVIES", "CINELAKE_MOVIES_PATH")
SERIES_PATH = ("CAMINHO_DO_ARQUIVO_LOCAL_SERIES", "CINELAKE_SERIES_PATH")
BUCKET = ("NOME_DO_BUCKET_S3", "CINELAKE_BUCKET")
REGION = ("REGIAO_DO_BUCKET", "AWS_REGION", "AWS_DEFAULT_REGION")
PROFILE = ("NOME_DO_PERFIL_SSO", "AWS_PROFILE")
ACCESS_KEY_ID = ("aws_access_key_id", "AWS_ACCESS_KEY_ID")
SECRET_ACCESS_KEY = ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY")
SESSION_TOKEN = ("aws_session_token", "AWS_SESSION_TOKEN")
LAKE = ("CINELAKE_LAKE",)
ENDPOINT_URL = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
TMDB_API_KEY = ("TMDB_API_KEY",)
TMDB_READ_ACCESS_TOKEN = ("TMDB_READ_ACCESS_TOKEN",)
TMDB_BASE_URL = ("TMDB_BASE_URL",)
TMDB_SECRET_ID = ("TMDB_SECRET_ID",)
TMDB_PARAMETER_NAME = ("TMDB_PARAMETER_NAME",)
LOG_FORMAT = ("CINELAKE_LOG_FORMAT",)
PART_SIZE_MIB = ("CINELAKE_PART_SIZE_MIB",)
MAX_CONCURRENCY = ("CINELAKE_MAX_CONCURRENCY",)

EVERY_NAME = frozenset(
    name for names in list(globals().values()) if isinstance(names, tuple) for name in names
)
"""Every name above: derived, so a setting added here is never taken for a misspelling."""
SECRET_NAMES = frozenset(
    {
        *ACCESS_KEY_ID,
        *SECRET_ACCESS_KEY,
        *SESSION_TOKEN,
        *TMDB_API_KEY,
        *TMDB_READ_ACCESS_TOKEN,
    }
)
