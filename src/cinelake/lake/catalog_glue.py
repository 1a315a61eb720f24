"""Apply the Athena catalog to the Glue Data Catalog: idempotent, and only what changed.

A table or view that exists with the same definition is left alone; one whose definition
differs (a CSV landed with a new header) is updated in place; the rest are created. Inputs are
checked before the first call, so a refused name creates nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cinelake.errors import NO_AWS_CREDENTIALS, ConfigError, InputError, RunError, UsageError
from cinelake.lake.catalog_athena import AthenaCatalog, table_input, view_input

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

DATABASE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
Change = Literal["created", "updated", "unchanged"]


@dataclass
class ApplyReport:
    database: str
    database_created: bool = False
    changes: dict[str, Change] = field(default_factory=dict)

    def count(self, change: Change) -> int:
        return sum(1 for c in self.changes.values() if c == change)

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "database_created": self.database_created,
            "tables": dict(sorted(self.changes.items())),
        }


def check_database_name(name: str) -> str:
    """Athena reads only lowercase letters, digits and `_`; Glue would lowercase the rest."""
    if not DATABASE_NAME.match(name):
        raise InputError(
            f"--database {name!r}: Glue and Athena accept lowercase letters, digits and _ "
            "(at most 255); use a name such as cinelake_raw"
        )
    return name


def apply_catalog(glue: GlueClient, athena: AthenaCatalog) -> ApplyReport:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    check_database_name(athena.database)
    report = ApplyReport(athena.database)
    inputs = [table_input(t) for t in athena.tables]
    inputs += [view_input(athena.database, v) for v in athena.views]
    try:
        report.database_created = _ensure_database(glue, athena.database)
        for wanted in inputs:
            report.changes[wanted["Name"]] = _apply_table(glue, athena.database, wanted)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = f"Glue refused {error.get('Code', 'the request')}: {error.get('Message', exc)}"
        if error.get("Code") in {"InvalidInputException", "ValidationException"}:
            raise UsageError(f"{message}; fix the input named above and re-run") from None
        raise RunError(f"{message}; what was applied stays, re-run to finish") from None
    except NoCredentialsError:
        raise ConfigError(NO_AWS_CREDENTIALS) from None
    except BotoCoreError as exc:
        raise RunError(f"cannot reach Glue ({exc}); re-run when it answers") from None
    return report


def _ensure_database(glue: GlueClient, name: str) -> bool:
    try:
        glue.get_database(Name=name)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(
            DatabaseInput={
                "Name": name,
                "Description": "The raw zone landed by cinelake, read as it landed",
            }
        )
        return True
    return False


def _apply_table(glue: GlueClient, database: str, wanted: dict[str, Any]) -> Change:
    try:
        existing = glue.get_table(DatabaseName=database, Name=wanted["Name"])["Table"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=database, TableInput=wanted)  # type: ignore[arg-type]
        return "created"
    if _same(existing, wanted):
        return "unchanged"
    glue.update_table(DatabaseName=database, TableInput=wanted)  # type: ignore[arg-type]
    return "updated"


def _same(existing: Any, wanted: dict[str, Any]) -> bool:
    """Compare what cinelake sets; Glue adds its own fields (times, owner, version ids)."""
    for name, value in wanted.items():
        if name == "StorageDescriptor":
            held = existing.get("StorageDescriptor", {})
            if any(held.get(k) != v for k, v in value.items() if v or held.get(k)):
                return False
        elif name == "Parameters":
            held_parameters = existing.get("Parameters", {})
            if any(held_parameters.get(k) != v for k, v in value.items()):
                return False
        elif existing.get(name, type(value)()) != value:
            return False
    return True
