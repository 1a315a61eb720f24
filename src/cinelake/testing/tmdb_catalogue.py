"""The titles the TMDB emulator knows about, and the JSON shapes TMDB would give them.

Kept apart from the HTTP server so a test or a benchmark can ask the catalogue which IMDb
ids exist (to write a matching CSV) without starting a server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from random import Random
from typing import Any, Literal, Protocol

Kind = Literal["movie", "tv"]
JsonObject = dict[str, Any]

# TMDB genre ids for the IMDb genre names used in the CSVs. IMDb genres TMDB lacks map to the
# closest TMDB genre, as TMDB's own importers do.
_MOVIE_GENRES: dict[str, tuple[int, str]] = {
    "Action": (28, "Action"),
    "Adventure": (12, "Adventure"),
    "Animation": (16, "Animation"),
    "Biography": (36, "History"),
    "Comedy": (35, "Comedy"),
    "Crime": (80, "Crime"),
    "Documentary": (99, "Documentary"),
    "Drama": (18, "Drama"),
    "Family": (10751, "Family"),
    "Fantasy": (14, "Fantasy"),
    "History": (36, "History"),
    "Horror": (27, "Horror"),
    "Music": (10402, "Music"),
    "Musical": (10402, "Music"),
    "Mystery": (9648, "Mystery"),
    "Romance": (10749, "Romance"),
    "Sci-Fi": (878, "Science Fiction"),
    "Sport": (18, "Drama"),
    "Thriller": (53, "Thriller"),
    "War": (10752, "War"),
    "Western": (37, "Western"),
}
_TV_GENRES: dict[str, tuple[int, str]] = {
    "Action": (10759, "Action & Adventure"),
    "Adventure": (10759, "Action & Adventure"),
    "Animation": (16, "Animation"),
    "Comedy": (35, "Comedy"),
    "Crime": (80, "Crime"),
    "Documentary": (99, "Documentary"),
    "Drama": (18, "Drama"),
    "Family": (10751, "Family"),
    "Fantasy": (10765, "Sci-Fi & Fantasy"),
    "Sci-Fi": (10765, "Sci-Fi & Fantasy"),
    "Mystery": (9648, "Mystery"),
    "War": (10768, "War & Politics"),
    "History": (10768, "War & Politics"),
    "Western": (37, "Western"),
}

# Every company name carries a non-ASCII character so each details body exercises UTF-8.
_COMPANIES = (
    ("Produções Paraíso", "BR"),
    ("Estúdios Guanabara — São Paulo", "BR"),
    ("Ciné Lumière", "FR"),
    ("Películas Andinas", "CO"),
    ("Bärenfilm", "DE"),
    ("Nordisk Filmgård", "SE"),
    ("Québec Images Télé", "CA"),
    ("Filmes do Pará — Belém", "BR"),
)
_NETWORKS = (("Rede Aurora", "BR"), ("Canal Ñandú", "AR"), ("Télé Horizon", "FR"))
_COUNTRIES = {
    "BR": "Brazil",
    "FR": "France",
    "CO": "Colombia",
    "DE": "Germany",
    "SE": "Sweden",
    "CA": "Canada",
    "AR": "Argentina",
    "US": "United States of America",
}
_LANGUAGES = {
    "en": ("English", "English"),
    "pt": ("Portuguese", "Português"),
    "de": ("German", "Deutsch"),
    "es": ("Spanish", "Español"),
    "fr": ("French", "Français"),
}


@dataclass(frozen=True)
class CastMember:
    name: str
    character: str
    gender: Literal["actor", "actress"]


@dataclass(frozen=True)
class Title:
    """One movie or TV show, holding only what the TMDB bodies are derived from."""

    kind: Kind
    tmdb_id: int
    imdb_id: str
    title: str
    original_title: str
    original_language: str
    date: str
    genres: tuple[str, ...]
    runtime: int | None
    vote_average: float
    vote_count: int
    popularity: float
    overview: str
    cast: tuple[CastMember, ...]
    end_year: int | None = None
    seasons: int = 1


class _Shelf(Protocol):
    """One kind of title, indexable by position (for /discover) and by either id."""

    def __len__(self) -> int: ...
    def at(self, index: int) -> Title: ...
    def tmdb_id_at(self, index: int) -> int: ...
    def by_tmdb_id(self, tmdb_id: int) -> Title | None: ...
    def by_imdb_id(self, imdb_id: str) -> Title | None: ...
    def imdb_ids(self) -> Iterator[str]: ...


class _ListShelf:
    def __init__(self, titles: Iterable[Title]) -> None:
        self._titles = tuple(titles)
        self._by_tmdb = {t.tmdb_id: t for t in self._titles}
        self._by_imdb = {t.imdb_id: t for t in self._titles}
        if len(self._by_tmdb) != len(self._titles) or len(self._by_imdb) != len(self._titles):
            raise ValueError("catalogue titles must have unique TMDB and IMDb ids")

    def __len__(self) -> int:
        return len(self._titles)

    def at(self, index: int) -> Title:
        return self._titles[index]

    def tmdb_id_at(self, index: int) -> int:
        return self._titles[index].tmdb_id

    def by_tmdb_id(self, tmdb_id: int) -> Title | None:
        return self._by_tmdb.get(tmdb_id)

    def by_imdb_id(self, imdb_id: str) -> Title | None:
        return self._by_imdb.get(imdb_id)

    def imdb_ids(self) -> Iterator[str]:
        return (t.imdb_id for t in self._titles)


# Synthetic ids are arithmetic so a 50,000-title catalogue costs nothing until a body is asked for.
_SYNTHETIC = {
    "movie": (9_000_000, 1_000_000),  # (IMDb number base, TMDB id base)
    "tv": (8_000_000, 500_000),
}
_SYNTHETIC_MAX = 999_999


class _SyntheticShelf:
    def __init__(self, kind: Kind, size: int, seed: int) -> None:
        if not 0 <= size <= _SYNTHETIC_MAX:
            raise ValueError(f"synthetic {kind} count must be within 0..{_SYNTHETIC_MAX}")
        self._kind: Kind = kind
        self._size = size
        self._seed = seed
        self._imdb_base, self._tmdb_base = _SYNTHETIC[kind]

    def __len__(self) -> int:
        return self._size

    def at(self, index: int) -> Title:
        if not 0 <= index < self._size:
            raise IndexError(index)
        return _synthetic_title(self._kind, self._seed, index + 1)

    def tmdb_id_at(self, index: int) -> int:
        return self._tmdb_base + index + 1

    def by_tmdb_id(self, tmdb_id: int) -> Title | None:
        number = tmdb_id - self._tmdb_base
        return self.at(number - 1) if 1 <= number <= self._size else None

    def by_imdb_id(self, imdb_id: str) -> Title | None:
        if not (imdb_id.startswith("tt") and imdb_id[2:].isdigit()):
            return None
        number = int(imdb_id[2:]) - self._imdb_base
        if imdb_id != f"tt{self._imdb_base + number:07d}" or not 1 <= number <= self._size:
            return None
        return self.at(number - 1)

    def imdb_ids(self) -> Iterator[str]:
        return (f"tt{self._imdb_base + n:07d}" for n in range(1, self._size + 1))


_ADJECTIVES = ("Silent", "Hidden", "Crimson", "Distant", "Golden", "Bitter", "Endless", "Pale")
_NOUNS = ("Harbor", "River", "Witness", "Frontier", "Signal", "Orchard", "Tide", "Verdict")
_PLACES = ("São Paulo", "Belém", "Bogotá", "Montréal", "Köln", "Málaga", "Zürich", "Kraków")
_FIRST = ("Ana", "João", "Letícia", "Tomás", "Inês", "Hugo", "Maya", "Rafael", "Chloé", "Otávio")
_LAST = ("Araújo", "Falcão", "Moreau", "Navarro", "Becker", "Lindqvist", "Gonçalves", "Okafor")


@lru_cache(maxsize=4096)
def _synthetic_title(kind: Kind, seed: int, number: int) -> Title:
    imdb_base, tmdb_base = _SYNTHETIC[kind]
    rng = Random(f"cinelake-synthetic:{kind}:{seed}:{number}")  # noqa: S311 - reproducible
    place = rng.choice(_PLACES)
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {number}"
    genre_pool = sorted(_MOVIE_GENRES if kind == "movie" else _TV_GENRES)
    genres = tuple(sorted(rng.sample(genre_pool, rng.randint(1, 3))))
    year = rng.randint(1970, 2024)
    cast = tuple(
        CastMember(
            name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            character=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            gender="actress" if rng.random() < 0.5 else "actor",
        )
        for _ in range(rng.randint(2, 6))
    )
    end_year = None if kind == "movie" or rng.random() < 0.3 else year + rng.randint(0, 8)
    return Title(
        kind=kind,
        tmdb_id=tmdb_base + number,
        imdb_id=f"tt{imdb_base + number:07d}",
        title=name,
        original_title=name,
        original_language=rng.choice(("en", "en", "pt", "es", "fr", "de")),
        date=f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        genres=genres,
        runtime=rng.randint(80, 170) if kind == "movie" else rng.choice((24, 30, 45, 60)),
        vote_average=round(rng.uniform(3.0, 9.0), 1),
        vote_count=rng.randint(0, 30_000),
        popularity=round(rng.uniform(0.6, 250.0), 3),
        overview=f"{cast[0].character} returns to {place} and nothing is as it was.",
        cast=cast,
        end_year=end_year,
        seasons=rng.randint(1, 9) if kind == "tv" else 1,
    )


def _title_from_json(kind: Kind, raw: JsonObject) -> Title:
    return Title(
        kind=kind,
        tmdb_id=int(raw["tmdb_id"]),
        imdb_id=str(raw["imdb_id"]),
        title=str(raw["title"]),
        original_title=str(raw["original_title"]),
        original_language=str(raw["original_language"]),
        date=str(raw["date"]),
        genres=tuple(str(g) for g in raw["genres"]),
        runtime=None if raw["runtime"] is None else int(raw["runtime"]),
        vote_average=float(raw["vote_average"]),
        vote_count=int(raw["vote_count"]),
        popularity=float(raw["popularity"]),
        overview=str(raw["overview"]),
        cast=tuple(
            CastMember(
                name=str(n), character=str(c), gender="actress" if g == "actress" else "actor"
            )
            for n, c, g in raw["cast"]
        ),
        end_year=None if raw.get("end_year") is None else int(raw["end_year"]),
        seasons=int(raw.get("seasons", 1)),
    )


@lru_cache(maxsize=1)
def _sample_shelves() -> tuple[_ListShelf, _ListShelf]:
    text = resources.files(__package__).joinpath("sample_catalogue.json").read_text("utf-8")
    data = json.loads(text)
    movies = _ListShelf(_title_from_json("movie", m) for m in data["movies"])
    tv = _ListShelf(_title_from_json("tv", t) for t in data["tv"])
    return movies, tv


class Catalogue:
    """What the emulator can answer about; build one with a class method."""

    def __init__(self, movies: _Shelf, tv: _Shelf) -> None:
        self._shelves: dict[Kind, _Shelf] = {"movie": movies, "tv": tv}

    @classmethod
    def sample(cls) -> Catalogue:
        """The TMDB side of ``data/sample/``: about 5% of the CSV ids are deliberately unknown.

        The data ships inside the package so an installed wheel works without the repo.
        """
        movies, tv = _sample_shelves()
        return cls(movies, tv)

    @classmethod
    def synthetic(cls, n_movies: int, n_tv: int, seed: int = 0) -> Catalogue:
        """A large catalogue computed on demand: movies are tt9000001…, TV shows tt8000001…."""
        return cls(_SyntheticShelf("movie", n_movies, seed), _SyntheticShelf("tv", n_tv, seed))

    @property
    def n_movies(self) -> int:
        return len(self._shelves["movie"])

    @property
    def n_tv(self) -> int:
        return len(self._shelves["tv"])

    def count(self, kind: Kind) -> int:
        return len(self._shelves[kind])

    def movie_imdb_ids(self) -> Iterator[str]:
        return self._shelves["movie"].imdb_ids()

    def tv_imdb_ids(self) -> Iterator[str]:
        return self._shelves["tv"].imdb_ids()

    def by_imdb_id(self, kind: Kind, imdb_id: str) -> Title | None:
        return self._shelves[kind].by_imdb_id(imdb_id)

    def by_tmdb_id(self, kind: Kind, tmdb_id: int) -> Title | None:
        return self._shelves[kind].by_tmdb_id(tmdb_id)

    def at(self, kind: Kind, index: int) -> Title:
        return self._shelves[kind].at(index)

    def tmdb_id_at(self, kind: Kind, index: int) -> int:
        return self._shelves[kind].tmdb_id_at(index)

    def reclassified(self, imdb_ids: Iterable[str]) -> Catalogue:
        """The same titles, with these IMDb ids filed under the other kind, as TMDB may file
        a TV movie or a miniseries that IMDb lists as a series (same TMDB id, same IMDb id)."""
        moved = set(imdb_ids)
        titles = {
            kind: [shelf.at(i) for i in range(len(shelf))] for kind, shelf in self._shelves.items()
        }
        shelves: dict[Kind, list[Title]] = {"movie": [], "tv": []}
        for kind, listed in titles.items():
            other: Kind = "tv" if kind == "movie" else "movie"
            for title in listed:
                if title.imdb_id in moved:
                    shelves[other].append(replace(title, kind=other, end_year=None, seasons=1))
                else:
                    shelves[kind].append(title)
        return Catalogue(_ListShelf(shelves["movie"]), _ListShelf(shelves["tv"]))


# --- TMDB JSON shapes -------------------------------------------------------------------------


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _hex24(*parts: object) -> str:
    text = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(text, digest_size=12).hexdigest()


def image_path(*parts: object) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    text = "\x1f".join(str(p) for p in ("image", *parts)).encode()
    raw = hashlib.blake2b(text, digest_size=27).digest()
    return "/" + "".join(alphabet[b % 62] for b in raw) + ".jpg"


def _person_id(name: str) -> int:
    return 10_000 + _digest("person", name) % 4_000_000


def _genres(title: Title) -> list[tuple[int, str]]:
    table = _MOVIE_GENRES if title.kind == "movie" else _TV_GENRES
    seen: dict[int, str] = {}
    for g in title.genres:
        gid, name = table.get(g, (18, "Drama"))
        seen.setdefault(gid, name)
    return list(seen.items())


def _company(title: Title) -> tuple[int, str, str]:
    index = _digest("company", title.tmdb_id) % len(_COMPANIES)
    name, country = _COMPANIES[index]
    return 1_000 + index, name, country


def _listing_item(title: Title, media_type: bool) -> JsonObject:
    """The short form TMDB uses in /find and /discover result lists."""
    item: JsonObject = {
        "adult": False,
        "backdrop_path": image_path("backdrop", title.kind, title.tmdb_id),
        "id": title.tmdb_id,
    }
    if title.kind == "movie":
        item |= {"title": title.title, "original_title": title.original_title}
    else:
        item |= {"name": title.title, "original_name": title.original_title}
    item |= {
        "overview": title.overview,
        "poster_path": image_path("poster", title.kind, title.tmdb_id),
    }
    if media_type:
        item["media_type"] = title.kind
    item |= {
        "original_language": title.original_language,
        "genre_ids": [gid for gid, _ in _genres(title)],
        "popularity": title.popularity,
    }
    if title.kind == "movie":
        item |= {"release_date": title.date, "video": False}
    else:
        item |= {"first_air_date": title.date, "origin_country": [_company(title)[2]]}
    item |= {"vote_average": title.vote_average, "vote_count": title.vote_count}
    return item


def find_item(title: Title) -> JsonObject:
    return _listing_item(title, media_type=True)


def discover_item(title: Title) -> JsonObject:
    return _listing_item(title, media_type=False)


def _credits(title: Title) -> JsonObject:
    cast = []
    for order, member in enumerate(title.cast):
        person: JsonObject = {
            "adult": False,
            "gender": 1 if member.gender == "actress" else 2,
            "id": _person_id(member.name),
            "known_for_department": "Acting",
            "name": member.name,
            "original_name": member.name,
            "popularity": round(1 + _digest("pop", member.name) % 4000 / 100, 3),
            "profile_path": image_path("profile", member.name),
        }
        if title.kind == "movie":
            person["cast_id"] = order + 1
        person |= {
            "character": member.character,
            "credit_id": _hex24("credit", title.tmdb_id, order),
            "order": order,
        }
        cast.append(person)
    director = (
        f"{_FIRST[_digest('dir', title.tmdb_id) % len(_FIRST)]} "
        + (_LAST[_digest("dir-last", title.tmdb_id) % len(_LAST)])
    )
    crew = [
        {
            "adult": False,
            "gender": 0,
            "id": _person_id(director),
            "known_for_department": "Directing",
            "name": director,
            "original_name": director,
            "popularity": 2.5,
            "profile_path": None,
            "credit_id": _hex24("crew", title.tmdb_id),
            "department": "Directing",
            "job": "Director",
        }
    ]
    return {"id": title.tmdb_id, "cast": cast, "crew": crew}


def _external_ids(title: Title) -> JsonObject:
    wikidata = f"Q{100_000 + _digest('wikidata', title.kind, title.tmdb_id) % 90_000_000}"
    if title.kind == "movie":
        return {
            "id": title.tmdb_id,
            "imdb_id": title.imdb_id,
            "wikidata_id": wikidata,
            "facebook_id": None,
            "instagram_id": None,
            "twitter_id": None,
        }
    return {
        "id": title.tmdb_id,
        "imdb_id": title.imdb_id,
        "freebase_mid": None,
        "freebase_id": None,
        "tvdb_id": 70_000 + _digest("tvdb", title.tmdb_id) % 400_000,
        "tvrage_id": None,
        "wikidata_id": wikidata,
        "facebook_id": None,
        "instagram_id": None,
        "twitter_id": None,
    }


def _keywords(title: Title) -> JsonObject:
    words = [{"id": 9_000 + gid, "name": name.lower()} for gid, name in _genres(title)]
    words.append({"id": 1_533, "name": "são paulo, brazil"})
    key = "keywords" if title.kind == "movie" else "results"
    return {"id": title.tmdb_id, key: words}


def _watch_providers(title: Title) -> JsonObject:
    country = _company(title)[2]
    provider = {
        "logo_path": image_path("provider", title.kind, title.tmdb_id),
        "provider_id": 8,
        "provider_name": "Serviço de Streaming",
        "display_priority": 1,
    }
    link = f"https://www.themoviedb.org/{title.kind}/{title.tmdb_id}/watch?locale={country}"
    return {"id": title.tmdb_id, "results": {country: {"link": link, "flatrate": [provider]}}}


def sub_resource(title: Title, name: str, *, appended: bool = False) -> JsonObject:
    """What ``/{kind}/{id}/<name>`` answers, or ``append_to_response=<name>`` adds.

    An appended sub-object carries no top-level ``id`` (the details around it have one);
    asked for on its own path, it does.
    """
    if name == "credits":
        body = _credits(title)
    elif name == "external_ids":
        body = _external_ids(title)
    elif name == "keywords":
        body = _keywords(title)
    elif name == "watch/providers":
        body = _watch_providers(title)
    else:
        body = {"id": title.tmdb_id, "results": []}
    if appended:
        body.pop("id")
    return body


KNOWN_SUB_RESOURCES = frozenset({"credits", "external_ids", "keywords", "watch/providers"})


def details(title: Title, appended: Sequence[str] = ()) -> JsonObject:
    company_id, company, country = _company(title)
    english, native = _LANGUAGES.get(title.original_language, ("English", "English"))
    common: JsonObject = {
        "adult": False,
        "backdrop_path": image_path("backdrop", title.kind, title.tmdb_id),
    }
    genres = [{"id": gid, "name": name} for gid, name in _genres(title)]
    companies = [{"id": company_id, "logo_path": None, "name": company, "origin_country": country}]
    countries = [{"iso_3166_1": country, "name": _COUNTRIES[country]}]
    languages = [{"english_name": english, "iso_639_1": title.original_language, "name": native}]
    body: JsonObject
    if title.kind == "movie":
        body = common | {
            "belongs_to_collection": None,
            "budget": (_digest("budget", title.tmdb_id) % 150) * 1_000_000,
            "genres": genres,
            "homepage": "",
            "id": title.tmdb_id,
            "imdb_id": title.imdb_id,
            "origin_country": [country],
            "original_language": title.original_language,
            "original_title": title.original_title,
            "overview": title.overview,
            "popularity": title.popularity,
            "poster_path": image_path("poster", title.kind, title.tmdb_id),
            "production_companies": companies,
            "production_countries": countries,
            "release_date": title.date,
            "revenue": (_digest("revenue", title.tmdb_id) % 400) * 1_000_000,
            "runtime": title.runtime,
            "spoken_languages": languages,
            "status": "Released",
            "tagline": "",
            "title": title.title,
            "video": False,
            "vote_average": title.vote_average,
            "vote_count": title.vote_count,
        }
    else:
        first_year = int(title.date[:4])
        last_year = title.end_year if title.end_year is not None else first_year + title.seasons
        network_name, network_country = _NETWORKS[_digest("net", title.tmdb_id) % len(_NETWORKS)]
        episodes = 8 + _digest("eps", title.tmdb_id) % 5
        seasons = [
            {
                "air_date": f"{min(first_year + n, last_year):04d}{title.date[4:]}",
                "episode_count": episodes,
                "id": 10_000_000 + title.tmdb_id * 10 + n,
                "name": f"Season {n + 1}",
                "overview": "",
                "poster_path": image_path("season", title.tmdb_id, n),
                "season_number": n + 1,
                "vote_average": title.vote_average,
            }
            for n in range(title.seasons)
        ]
        body = common | {
            "created_by": [],
            "episode_run_time": [] if title.runtime is None else [title.runtime],
            "first_air_date": title.date,
            "genres": genres,
            "homepage": "",
            "id": title.tmdb_id,
            "in_production": title.end_year is None,
            "languages": [title.original_language],
            "last_air_date": f"{last_year:04d}{title.date[4:]}",
            "name": title.title,
            "networks": [
                {
                    "id": 300 + len(network_name),
                    "name": network_name,
                    "origin_country": network_country,
                }
            ],
            "number_of_episodes": episodes * title.seasons,
            "number_of_seasons": title.seasons,
            "origin_country": [country],
            "original_language": title.original_language,
            "original_name": title.original_title,
            "overview": title.overview,
            "popularity": title.popularity,
            "poster_path": image_path("poster", title.kind, title.tmdb_id),
            "production_companies": companies,
            "production_countries": countries,
            "seasons": seasons,
            "spoken_languages": languages,
            "status": "Returning Series" if title.end_year is None else "Ended",
            "tagline": "",
            "type": "Scripted",
            "vote_average": title.vote_average,
            "vote_count": title.vote_count,
        }
    for name in appended:
        body[name] = sub_resource(title, name, appended=True)
    return body
