"""Pure: which titles a `/find` answer leads to, and what about it is worth counting.

TMDB files an IMDb id under the kind it believes, not the CSV's: a TV movie or a miniseries
IMDb lists as a series may be a TMDB movie, an id may sit in several lists at once, and some
ids are known only as an episode or a season of a series (`show_id`). Every hit is followed in
the kind TMDB gives, so nothing TMDB knows is lost; person hits are kept in the Find record
and not followed. Every plan that reads `/find`, and any shortcut that falls back to it, asks
these rules, so one answer always leads to the same titles and the same counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["movie", "tv"]

FOLLOWED_LISTS: tuple[tuple[str, Kind, str], ...] = (
    ("movie_results", "movie", "id"),
    ("tv_results", "tv", "id"),
    ("tv_episode_results", "tv", "show_id"),
    ("tv_season_results", "tv", "show_id"),
)
"""Result list, the kind of title it leads to, and the field that holds that title's id."""

KIND_MISMATCH = "find_kind_mismatch"
MULTIPLE_HITS = "find_multiple_hits"
VIA_EPISODE_OR_SEASON = "find_via_episode_or_season"
PERSON_ONLY = "find_person_only"
FIND_COUNTS = (KIND_MISMATCH, MULTIPLE_HITS, VIA_EPISODE_OR_SEASON, PERSON_ONLY)
"""Manifest counts of lookups, each counted once per IMDb id it applies to."""

_WHAT_IT_MEANS = {
    KIND_MISMATCH: "IMDb ids TMDB found in the other kind than their CSV's, fetched in TMDB's",
    MULTIPLE_HITS: "IMDb ids that led to more than one TMDB title, each one fetched",
    VIA_EPISODE_OR_SEASON: "IMDb ids found only as an episode or a season; the series was fetched",
    PERSON_ONLY: "IMDb ids found only as a person, kept in the Find record and not followed",
}
MAX_EXAMPLES = 3

NO_HIT_MESSAGE = "TMDB has no hit at all for this IMDb id (every result list of /find is empty)"


@dataclass(frozen=True)
class FindHits:
    titles: tuple[str, ...]
    """Items to fetch (`movie:12`, `tv:1399`), once each, in the order of `FOLLOWED_LISTS`."""
    counts: tuple[str, ...]
    """The names in `FIND_COUNTS` that apply to this lookup."""

    @property
    def no_hit(self) -> bool:
        """Nothing at all, not even a person: the only case that is `not_found`."""
        return not self.titles and PERSON_ONLY not in self.counts


def find_hits(answer: Any, csv_kind: Kind | None) -> FindHits:
    """The titles a parsed `/find` body leads to; `csv_kind` is None when the id had no kind."""
    titles: list[str] = []
    direct: set[str] = set()
    via_parts: set[str] = set()
    for list_name, kind, id_field in FOLLOWED_LISTS:
        for hit in _entries(answer, list_name):
            tmdb_id = hit.get(id_field)
            if isinstance(tmdb_id, bool) or not isinstance(tmdb_id, int) or tmdb_id <= 0:
                continue
            title = f"{kind}:{tmdb_id}"
            (direct if id_field == "id" else via_parts).add(title)
            if title not in titles:
                titles.append(title)
    counts: list[str] = []
    if csv_kind is not None and any(not t.startswith(f"{csv_kind}:") for t in titles):
        counts.append(KIND_MISMATCH)
    if len(titles) > 1:
        counts.append(MULTIPLE_HITS)
    if via_parts - direct:
        counts.append(VIA_EPISODE_OR_SEASON)
    if not titles and _entries(answer, "person_results"):
        counts.append(PERSON_ONLY)
    return FindHits(tuple(titles), tuple(counts))


def csv_kind_of(item: str) -> Kind | None:
    """`find-movie:tt…` was listed in movies.csv, `find-tv:…` in series.csv, `find:…` in neither."""
    kind = item.partition(":")[0]
    return "movie" if kind == "find-movie" else "tv" if kind == "find-tv" else None


def _entries(answer: Any, list_name: str) -> list[Mapping[str, Any]]:
    found = answer.get(list_name) if isinstance(answer, Mapping) else None
    return [hit for hit in found if isinstance(hit, Mapping)] if isinstance(found, list) else []


@dataclass
class FindTally:
    """The find counts of a phase or a plan, with a few examples of each for the notes."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, item: str, counts: Iterable[str], titles: Sequence[str]) -> None:
        for name in counts:
            self.counts[name] += 1
            shown = self.examples.setdefault(name, [])
            if len(shown) < MAX_EXAMPLES:
                shown.append(_example(item, titles))

    def merge(self, other: FindTally) -> None:
        self.counts.update(other.counts)
        for name, shown in other.examples.items():
            mine = self.examples.setdefault(name, [])
            mine.extend(shown[: MAX_EXAMPLES - len(mine)])

    def manifest_counts(self) -> dict[str, int]:
        return {name: self.counts[name] for name in FIND_COUNTS}

    def notes(self) -> list[str]:
        return [
            f"{name} {self.counts[name]}: {_WHAT_IT_MEANS[name]}; e.g. "
            + "; ".join(self.examples.get(name, []))
            for name in FIND_COUNTS
            if self.counts[name]
        ]


def _example(item: str, titles: Sequence[str]) -> str:
    kind = csv_kind_of(item)
    origin = {"movie": " (movies CSV)", "tv": " (series CSV)", None: ""}[kind]
    return f"{item.partition(':')[2]}{origin} -> {', '.join(titles) or 'nothing followed'}"
