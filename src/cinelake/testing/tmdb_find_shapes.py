"""`/find` answers shaped the way TMDB really gives them, switchable per test.

The plain catalogue answers each IMDb id with one hit in the list of its own kind. TMDB also
answers an id in the other kind than IMDb's, in several lists at once, only as an episode or a
season of a series (`show_id`), only as a person, or not at all. These shapes follow TMDB's
documentation of `/find` (the five result lists and the fields of each); the values are made
up here, from the catalogue's own titles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cinelake.testing.tmdb_catalogue import Catalogue, JsonObject, Title, find_item, image_path

FindList = Literal[
    "movie_results", "person_results", "tv_results", "tv_episode_results", "tv_season_results"
]
FIND_LISTS: tuple[FindList, ...] = (
    "movie_results",
    "person_results",
    "tv_results",
    "tv_episode_results",
    "tv_season_results",
)


@dataclass(frozen=True)
class FindHit:
    """One entry of a `/find` answer.

    `tmdb_id` is the movie's, the series' (for an episode or a season: its `show_id`) or the
    person's id; the title it names must be in the catalogue, so its details can be asked for.
    """

    list_name: FindList
    tmdb_id: int
    number: int = 1
    """The episode or season number, for those lists."""


def find_body(catalogue: Catalogue, hits: Sequence[FindHit]) -> JsonObject:
    """The whole answer: every list present, empty or not, in TMDB's order."""
    body: JsonObject = {name: [] for name in FIND_LISTS}
    for hit in hits:
        body[hit.list_name].append(_entry(catalogue, hit))
    return body


def check_hits(catalogue: Catalogue, answers: Mapping[str, Sequence[FindHit]]) -> None:
    """Refuse, at start, a hit on a title the emulator could not then serve."""
    for imdb_id, hits in answers.items():
        for hit in hits:
            if hit.list_name != "person_results" and _title(catalogue, hit) is None:
                raise ValueError(f"find answer for {imdb_id}: no title {hit} in the catalogue")


def _title(catalogue: Catalogue, hit: FindHit) -> Title | None:
    kind: Literal["movie", "tv"] = "movie" if hit.list_name == "movie_results" else "tv"
    return catalogue.by_tmdb_id(kind, hit.tmdb_id)


def _entry(catalogue: Catalogue, hit: FindHit) -> JsonObject:
    if hit.list_name == "person_results":
        return _person(hit.tmdb_id)
    title = _title(catalogue, hit)
    if title is None:
        raise ValueError(f"no title for {hit}")
    if hit.list_name == "tv_episode_results":
        return _episode(title, hit.number)
    if hit.list_name == "tv_season_results":
        return _season(title, hit.number)
    return find_item(title)


def _episode(show: Title, number: int) -> JsonObject:
    return {
        "id": 90_000_000 + show.tmdb_id * 100 + number,
        "name": f"{show.title}: episode {number}",
        "overview": show.overview,
        "media_type": "tv_episode",
        "vote_average": show.vote_average,
        "vote_count": show.vote_count // 50,
        "air_date": show.date,
        "episode_number": number,
        "episode_type": "standard",
        "production_code": "",
        "runtime": show.runtime,
        "season_number": 1,
        "show_id": show.tmdb_id,
        "still_path": image_path("still", show.tmdb_id, number),
    }


def _season(show: Title, number: int) -> JsonObject:
    return {
        "id": 80_000_000 + show.tmdb_id * 100 + number,
        "name": f"Season {number}",
        "overview": "",
        "poster_path": image_path("season", show.tmdb_id, number),
        "media_type": "tv_season",
        "vote_average": show.vote_average,
        "air_date": show.date,
        "season_number": number,
        "show_id": show.tmdb_id,
        "episode_count": 10,
    }


def _person(person_id: int) -> JsonObject:
    return {
        "adult": False,
        "id": person_id,
        "name": f"Pessoa {person_id}",
        "original_name": f"Pessoa {person_id}",
        "media_type": "person",
        "popularity": 1.5,
        "gender": 0,
        "known_for_department": "Acting",
        "profile_path": None,
        "known_for": [],
    }


@dataclass(frozen=True)
class AwkwardFinds:
    """A catalogue and `/find` answers holding every shape above at least once."""

    catalogue: Catalogue
    find_answers: dict[str, tuple[FindHit, ...]]


def awkward_finds(catalogue: Catalogue) -> AwkwardFinds:
    """Picks titles by position, so the same catalogue always gets the same shapes.

    Three series become TMDB movies (the IMDb id is found as a movie, with a TMDB id of its
    own); a series is found only as an episode and another only as a season; a series comes
    with an episode of its own; a movie's id also names a series (two titles); a movie's id is
    known only as a person, and another one not at all; and a series' id leads to a movie
    that its own movies-CSV id leads to as well (one title from two IMDb ids).
    """
    shows = list(catalogue.tv_imdb_ids())
    movies = list(catalogue.movie_imdb_ids())
    if len(shows) < 9 or len(movies) < 4:
        raise ValueError("awkward finds need at least 9 series and 4 movies in the catalogue")
    reclassified = catalogue.reclassified(shows[:3])

    def tv_id(imdb_id: str) -> int:
        return _tmdb_id(catalogue, "tv", imdb_id)

    def movie_id(imdb_id: str) -> int:
        return _tmdb_id(catalogue, "movie", imdb_id)

    answers: dict[str, tuple[FindHit, ...]] = {
        shows[3]: (FindHit("tv_episode_results", tv_id(shows[3]), 2),),
        shows[4]: (FindHit("tv_season_results", tv_id(shows[4]), 1),),
        shows[5]: (
            FindHit("tv_results", tv_id(shows[5])),
            FindHit("tv_episode_results", tv_id(shows[5]), 1),
        ),
        movies[0]: (
            FindHit("movie_results", movie_id(movies[0])),
            FindHit("tv_results", tv_id(shows[6])),
        ),
        movies[1]: (),
        movies[2]: (FindHit("person_results", 4_000_001),),
        shows[7]: (FindHit("movie_results", movie_id(movies[3])),),
    }
    return AwkwardFinds(reclassified, answers)


def _tmdb_id(catalogue: Catalogue, kind: Literal["movie", "tv"], imdb_id: str) -> int:
    title = catalogue.by_imdb_id(kind, imdb_id)
    if title is None:
        raise ValueError(f"{imdb_id} is not a {kind} of the catalogue")
    return title.tmdb_id
