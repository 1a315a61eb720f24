"""A movie's details asked by its IMDb id in one request, with `/find` when TMDB answers 404.

`/movie/tt0137523` answers like `/movie/550` on TMDB, though its API reference types the id
as an integer (observed behaviour, not documented): a `movies.csv` title then costs one
request instead of two (`/find`, then details). A 404 means TMDB does not know the IMDb id as
a movie (it may hold it as a series), so the title falls back to the `/find` path every other
lookup takes, and its answer lands in `Find/` with the follow-up details it names. A body that
was paid for is always kept: the details under `Movies/`, the `/find` answer under `Find/`.
"""

from __future__ import annotations

from cinelake.tmdb.client import TmdbAnswer
from cinelake.tmdb.outcomes import Outcome, classify, from_body

KIND = "imdb-movie"
FALLBACK_STRUCTURE = "Find"


def find_item(item: str) -> str:
    """The `/find` lookup a 404 falls back to, as a `movies.csv` lookup: every hit is followed
    in the kind TMDB gives (a series included), and one of another kind is counted as such."""
    return f"find-movie:{item.partition(':')[2]}"


def needs_find(item: str, answer: TmdbAnswer) -> bool:
    return item.startswith(f"{KIND}:") and answer.status == 404


def after_find(item: str, answer: TmdbAnswer) -> Outcome:
    """The `/find` answer, as the outcome of the IMDb-id item that led to it."""
    return _renamed(item, classify(find_item(item), answer))


def outcome_of_record(item: str, structure: str, record: bytes) -> Outcome:
    """A record an interrupted run landed, read back the way a fresh answer was classified."""
    if item.startswith(f"{KIND}:") and structure == FALLBACK_STRUCTURE:
        return _renamed(item, from_body(find_item(item), record, attempts=None))
    return from_body(item, record, attempts=None)


def _renamed(item: str, outcome: Outcome) -> Outcome:
    outcome.item = item
    if outcome.record is not None:
        outcome.landed_as = FALLBACK_STRUCTURE
    if outcome.error is not None:
        outcome.error["item"] = item
    return outcome
