"""One small error hierarchy, so the shells map every failure to one line and one exit code.

`UsageError` (exit 2) is anything the user must fix before a run can start: configuration,
bad input, credentials, an unreachable endpoint. `RunError` (exit 1) is a failure during work
that was correctly requested. Messages name the input and the fix and never carry secrets.
"""

from __future__ import annotations

NO_AWS_CREDENTIALS = (
    "no AWS credentials found: set aws_access_key_id and aws_secret_access_key, or "
    "NOME_DO_PERFIL_SSO (then `aws sso login`), in .env or the environment"
)
NO_SSO_SESSION = (
    "no valid SSO session (never started or expired): run "
    "`aws sso login --profile <NOME_DO_PERFIL_SSO>`, then retry"
)


class CinelakeError(Exception):
    """Root of every error cinelake raises on purpose."""

    exit_code = 1


class UsageError(CinelakeError):
    """The request cannot start: the user must change an input, a setting or an environment."""

    exit_code = 2


class ConfigError(UsageError):
    """A setting is missing, malformed or contradicts another one."""


class InputError(UsageError):
    """A file or argument given to a command cannot be used as it is."""


class RunError(CinelakeError):
    """A correctly requested run failed part-way; what landed stays landed."""


class SourceChanged(RunError):
    """A source file changed while it was read: what was read is not published."""


class StoreError(CinelakeError):
    """The lake refused or failed an operation."""


class ObjectExists(StoreError):
    """A conditional write found the key already taken (If-None-Match / O_EXCL)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} already exists in the lake")
        self.key = key


class ObjectConflict(StoreError):
    """A different content is already landed under the key; raw data is never overwritten."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key


class ChecksumMismatch(StoreError):
    """What the lake holds is not what was sent."""

    def __init__(self, key: str, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{key}: {algorithm} checksum stored by the lake ({actual}) differs from the one "
            f"computed locally ({expected}); nothing was deleted, re-run to retry"
        )
        self.key = key


class LakeUnavailable(UsageError):
    """The lake itself (bucket, endpoint, credentials, directory) cannot be used."""


class TmdbAuthError(UsageError):
    """TMDB refused the credential (a 401, whatever its status_code): stop at once, never hammer."""


class TmdbAuthErrorAfterLanding(TmdbAuthError):
    """The credential was refused after files of this run had landed: a failed run (exit 1).

    Still an auth error, so a shell that caches the credential reads it again; but no longer
    "nothing written", since a partial manifest lists what landed and the same command resumes.
    """

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM (`docker stop`, `timeout`, a scheduler) stops a run the way Ctrl-C does: the
    upload under way is aborted and what landed gets its manifest."""


class LeaseBusy(CinelakeError):
    """Another run of the same source holds the lake's lease: this one did nothing.

    Exit 75 (EX_TEMPFAIL, from sysexits.h): a scheduler may simply try again later.
    """

    exit_code = 75

    def __init__(self, source: str, holder: str, started_at: str, key: str) -> None:
        super().__init__(
            f"busy: another {source} run holds this lake ({holder}, started {started_at}); "
            "this run made no request: try again once it ends"
        )
        self.source = source
        self.holder = holder
        self.started_at = started_at
        self.key = key
