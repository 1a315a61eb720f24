"""Pure planning: which TMDB items a run asks for, in which order, in which batches.

An item is a short string that names one request: `movie:550`, `tv:1399`, `find-movie:tt0111161`
(an IMDb id known to be a movie), `find:tt0111161` (kind unknown), `discover-movie:3` (a page),
`changes-movie:2025-05-01:2025-05-14:2` (a page of a changes window), `refresh-movie:...` (the
same page asked by a refresh, which follows only the tracked ids in it), `imdb-movie:tt0111161`
(a movie's details asked by its IMDb id, `/find` if TMDB answers 404). The order is fixed by
the inputs, so a resumed run rebuilds exactly the same batches.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from cinelake.errors import InputError

IMDB_ID = re.compile(r"^tt[0-9]{7,10}$")
TMDB_ID = re.compile(r"^(movie|tv):([0-9]{1,10})$")
APPEND_NAMES = frozenset(
    {
        "account_states",
        "aggregate_credits",
        "alternative_titles",
        "changes",
        "content_ratings",
        "credits",
        "episode_groups",
        "external_ids",
        "images",
        "keywords",
        "lists",
        "recommendations",
        "release_dates",
        "reviews",
        "screened_theatrically",
        "similar",
        "translations",
        "videos",
        "watch/providers",
    }
)
"""The `append_to_response` names TMDB documents for movie and TV details (developer.themoviedb.org,
"Append To Response" and each details page): the only list `--append` is checked against."""
DEFAULT_APPEND = ("credits", "external_ids", "keywords")
MAX_APPEND = 20
MAX_DISCOVER_PAGE = 500
MAX_CHANGES_WINDOW_DAYS = 14


@dataclass(frozen=True)
class PlanSpec:
    """Everything that decides a plan's items; its hash names the plan's checkpoint."""

    plan: str
    run_date: date
    append: tuple[str, ...] = DEFAULT_APPEND
    batch_size: int = 100
    inputs: dict[str, Any] = field(default_factory=dict)

    def plan_id(self) -> str:
        data = asdict(self)
        data["run_date"] = self.run_date.isoformat()
        encoded = json.dumps(data, sort_keys=True, default=str).encode()
        return f"{self.plan}-{hashlib.sha256(encoded).hexdigest()[:12]}"


def check_append(names: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(n.strip() for n in names if n.strip())
    if len(cleaned) > MAX_APPEND:
        raise InputError(f"--append lists {len(cleaned)} items; TMDB accepts at most {MAX_APPEND}")
    for name in cleaned:
        if name not in APPEND_NAMES:
            raise InputError(
                f"--append {name!r}: not an append_to_response name TMDB documents; use some "
                f"of {', '.join(sorted(APPEND_NAMES))}"
            )
    return cleaned


def check_batch_size(size: int) -> int:
    if not 1 <= size <= 100:
        raise InputError(f"--batch-size {size}: use 1 to 100 records per file")
    return size


def parse_id(text: str, origin: str) -> str:
    """`movie:550`, `tv:1399` or `tt0111161` → an item; anything else is bad input."""
    token = text.strip()
    if IMDB_ID.match(token):
        return f"find:{token}"
    match = TMDB_ID.match(token)
    if match:
        return f"{match.group(1)}:{int(match.group(2))}"
    raise InputError(f"{origin}: {token!r} is not movie:ID, tv:ID or an IMDb id (tt…)")


def parse_ids(texts: Iterable[tuple[str, str]]) -> list[str]:
    """Unique items in first-seen order; `texts` pairs each id with where it came from."""
    return unique(parse_id(text, origin) for text, origin in texts)


def unique(items: Iterable[str], key: Callable[[str], str] = lambda item: item) -> list[str]:
    """First-seen order, one item per `key`."""
    seen: set[str] = set()
    ordered = []
    for item in items:
        identity = key(item)
        if identity not in seen:
            seen.add(identity)
            ordered.append(item)
    return ordered


def batches(items: Sequence[str], size: int) -> Iterator[tuple[int, Sequence[str]]]:
    """Numbered from 1, so the first file of a plan is `...-000001-...`."""
    for start in range(0, len(items), size):
        yield start // size + 1, items[start : start + size]


def changes_windows(since: date, until: date) -> list[tuple[date, date]]:
    """Consecutive windows of at most 14 days covering since..until inclusive."""
    if since > until:
        raise InputError(f"--since {since} is after the run date {until}")
    windows = []
    start = since
    while True:  # never a day past `until`: 9999-12-31 is the last date there is
        end = start + timedelta(days=min(MAX_CHANGES_WINDOW_DAYS - 1, (until - start).days))
        windows.append((start, end))
        if end == until:
            return windows
        start = end + timedelta(days=1)


def request_of(
    item: str, append: Sequence[str], discover_params: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The endpoint and query for an item (credentials are the client's business)."""
    kind, _, ref = item.partition(":")
    if kind in {"movie", "tv"}:
        params = {"append_to_response": ",".join(append)} if append else {}
        return f"/{kind}/{ref}", params
    if kind.startswith("find"):
        return f"/find/{ref}", {"external_source": "imdb_id"}
    if kind.startswith("discover-"):
        return f"/discover/{kind.removeprefix('discover-')}", {**discover_params, "page": ref}
    if kind == "imdb-movie":
        params = {"append_to_response": ",".join(append)} if append else {}
        return f"/movie/{ref}", params
    if kind.startswith(("changes-", "refresh-")):
        start, end, page = ref.split(":")
        return (
            f"/{kind.partition('-')[2]}/changes",
            {"start_date": start, "end_date": end, "page": page},
        )
    raise ValueError(f"unknown item {item!r}")
