"""What a Lambda event may hold, checked field by field with the CLI's rules.

An event is any JSON value somebody typed into a console or a schedule: each field that is not
what its CLI flag would accept becomes an `InputError` naming the field, never a `TypeError`
from deep inside, and dates follow the CLI's YYYY-MM-DD rule exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from cinelake.errors import InputError

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def as_mapping(event: object) -> dict[str, Any]:
    """An empty event is the default plan; anything but a JSON object is refused."""
    if event is None:
        return {}
    if not isinstance(event, Mapping):
        raise InputError(
            f"event: a JSON object is expected (got a {_json_type(event)}); e.g. "
            '{"plan": "ids", "ids": "movie:550"}'
        )
    return {str(k): v for k, v in event.items()}


def whole_number(value: object, name: str, *, minimum: int) -> int:
    """JSON integers, or floats that are whole (`2.0`); not booleans, strings or infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"event {name}: use a whole number (got a {_json_type(value)})")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise InputError(f"event {name} {value!r}: use a whole number")
    number = int(value)
    if number < minimum:
        raise InputError(f"event {name} {number}: use {minimum} or more")
    return number


def real_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"event {name}: use a number (got a {_json_type(value)})")
    return float(value)


def day(value: object, name: str) -> date | None:
    """YYYY-MM-DD only, as the CLI: not 20260107, not a week date, not a number."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"event {name} {_short(value)}: use a date as YYYY-MM-DD")


def kind(value: object) -> Literal["movie", "tv"] | None:
    if value is None:
        return None
    if value == "movie":
        return "movie"
    if value == "tv":
        return "tv"
    raise InputError(f"event kind {_short(value)}: use movie or tv")


def text_list(value: object, name: str) -> list[str]:
    """A comma-separated string or a list of strings and numbers (`[550, "tv:1396"]`)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(
        isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
    ):
        return [str(v) for v in value]
    raise InputError(f"event {name}: use a comma-separated string or a list of strings")


def params(value: object) -> tuple[tuple[str, str], ...]:
    """Discover parameters: an object of strings, numbers or booleans, as `--param K=V`."""
    if value in (None, {}):
        return ()
    if not isinstance(value, Mapping):
        raise InputError(
            f'event params: use an object such as {{"sort_by": "popularity.desc"}} (got a '
            f"{_json_type(value)})"
        )
    pairs = []
    for key, item in value.items():
        if isinstance(item, bool):
            shown = str(item).lower()
        elif isinstance(item, (int, float, str)):
            shown = str(item)
        else:
            raise InputError(f"event params {_short(key)}: use a string or a number as its value")
        pairs.append((str(key), shown))
    return tuple(sorted(pairs))


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    return names.get(type(value), "JSON object" if isinstance(value, Mapping) else "null")


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."
