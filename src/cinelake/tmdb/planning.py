"""A plan made once and saved in the lake: its items, its identity, and what was left out.

A plan is written only after TMDB answered its first request, so a refused key or a TMDB out
of reach leaves nothing behind; any later run of the same request follows the saved plan.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cinelake.errors import (
    InputError,
    ObjectConflict,
    RunError,
    UsageError,
)
from cinelake.lake import layout
from cinelake.store.base import META_RUN_ID, Store
from cinelake.tmdb import by_imdb
from cinelake.tmdb.checkpoints import parse_checkpoint
from cinelake.tmdb.client import TmdbAnswer, TmdbClient
from cinelake.tmdb.inputs import id_items, ids_identity_0_1_0, input_identity, not_looked_up_yet
from cinelake.tmdb.plans import (
    MAX_DISCOVER_PAGE,
    PlanSpec,
    changes_windows,
    request_of,
)
from cinelake.tmdb.refresh import refresh_identity, refresh_items
from cinelake.tmdb.request import TmdbIngestRequest, options

log = logging.getLogger(__name__)


@dataclass
class Plan:
    spec: PlanSpec
    stamp: str
    first_items: list[str]
    direct_details: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was left out when the plan was made, and why: every manifest of the plan says it."""
    prefetched: dict[str, TmdbAnswer] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)
    """Counts fixed when the plan was made (a refresh's `tracked` and `changed`)."""

    @classmethod
    def saved(cls, spec: PlanSpec, body: dict[str, Any]) -> Plan:
        return cls(
            spec,
            body["stamp"],
            body["first_items"],
            body["direct_details"],
            body.get("notes", []),
            facts=body.get("facts", {}),
        )


def spec_of(request: TmdbIngestRequest, inputs: dict[str, Any]) -> PlanSpec:
    return PlanSpec(
        plan=request.plan,
        run_date=request.run_date,
        append=request.append,
        batch_size=request.batch_size,
        inputs=inputs,
    )


def _identities(request: TmdbIngestRequest, store: Store) -> list[dict[str, Any]]:
    """What names the plan, newest spelling first (earlier ones are resumed, not redone)."""
    if request.plan == "refresh":
        return [refresh_identity(request, store)]
    if request.plan == "ids":
        return [input_identity(request, store), ids_identity_0_1_0(request)]
    return [input_identity(request, store)]


def is_sealed(request: TmdbIngestRequest, store: Store) -> bool:
    """Whether the plan this request names exists and is complete: asks TMDB nothing."""
    spec = spec_of(request, input_identity(request, store))
    return (
        store.head(f"{layout.state_prefix(request.run_date, spec.plan_id())}complete.json")
        is not None
    )


def load_or_create_plan(
    request: TmdbIngestRequest, store: Store, client: TmdbClient, run_id: str
) -> Plan:
    specs = [spec_of(request, inputs) for inputs in _identities(request, store)]
    for spec in specs:
        plan_key = f"{layout.state_prefix(request.run_date, spec.plan_id())}plan.json"
        if store.head(plan_key) is not None:
            return Plan.saved(spec, parse_checkpoint(plan_key, store.get_bytes(plan_key)))
    spec = specs[0]
    plan_key = f"{layout.state_prefix(request.run_date, spec.plan_id())}plan.json"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    plan = Plan(spec, stamp, [], [])
    if request.plan in {"from-csv", "ids"}:
        first, direct, skipped = id_items(request, store)
        if skipped and not (first or direct):
            raise InputError(
                f"no landed CSV of {request.run_date} has ids to look up: "
                f"{'; '.join(skipped)}; land the right file or pass --movies/--series"
            )
        plan.notes.extend(skipped)
        if request.plan == "from-csv":
            first = not_looked_up_yet(store, request, first, plan.notes)
        plan.first_items, plan.direct_details = first, direct
        if first or direct:
            _ask_first_item(request, client, (first or direct)[0], plan.prefetched)
    elif request.plan == "discover":
        plan.first_items = _discover_items(request, client, plan.prefetched)
    elif request.plan == "refresh":
        since = spec.inputs["since"]
        plan.first_items, plan.direct_details, plan.facts, notes = refresh_items(
            request, store, client, date.fromisoformat(since) if since else None, plan.prefetched
        )
        plan.notes.extend(notes)
    else:
        plan.first_items = _changes_items(request, client, plan.prefetched)
    body = {
        "plan_id": spec.plan_id(),
        "stamp": stamp,
        "created_by_run": run_id,
        "request": options(request),
        "inputs": spec.inputs,
        "first_items": plan.first_items,
        "direct_details": plan.direct_details,
        "notes": plan.notes,
        "facts": plan.facts,
    }
    try:
        store.put_bytes(plan_key, json.dumps(body, sort_keys=True).encode(), {META_RUN_ID: run_id})
    except ObjectConflict:
        saved = parse_checkpoint(plan_key, store.get_bytes(plan_key))
        log.warning(
            "another run created this plan first; following its checkpoint",
            extra={"event": "tmdb.plan_race", "plan_id": spec.plan_id()},
        )
        return Plan.saved(spec, saved)
    return plan


def _ask_first_item(
    request: TmdbIngestRequest, client: TmdbClient, item: str, prefetched: dict[str, TmdbAnswer]
) -> None:
    """Ids and CSV plans need no TMDB answer to be planned, so their first item is asked for
    before the plan is written: a refused key (401 raises here) or a TMDB out of reach then
    leaves nothing in the lake, and the answer is not asked for twice.

    Only a connection that never opened means TMDB is out of reach; a reset, a read timeout or
    a 5xx may be this one title's trouble, so it is planned and its failure kept like any other.
    """
    path, params = request_of(item, request.append, {})
    answer = client.get(path, params)
    if answer.never_connected:
        why = "" if answer.error == "interrupted" else f" ({answer.error})"
        raise UsageError(
            f"cannot reach TMDB at {client.base_url}: no connection could be opened{why}; "
            "nothing was planned or written, check TMDB_BASE_URL and the network"
        )
    if by_imdb.needs_find(item, answer):
        # A movie TMDB does not know by IMDb id: its /find answer is what the plan needs next.
        # (A 404 that is not TMDB's, a base URL without /3, was refused by the client already.)
        prefetched[item] = answer
        item = by_imdb.find_item(item)
        answer = client.get(*request_of(item, (), {}))
    if answer.error != "interrupted":
        prefetched[item] = answer


def _discover_items(
    request: TmdbIngestRequest, client: TmdbClient, prefetched: dict[str, TmdbAnswer]
) -> list[str]:
    """Page 1 tells how many pages exist; never ask for page 501."""
    kind = request.kind or "movie"
    first = f"discover-{kind}:1"
    path, params = request_of(first, request.append, dict(request.discover_params))
    total = _total_pages(client.get(path, params), first, prefetched)
    last = min(total, request.max_pages or MAX_DISCOVER_PAGE, MAX_DISCOVER_PAGE)
    return [f"discover-{kind}:{page}" for page in range(1, max(last, 1) + 1)]


def _changes_items(
    request: TmdbIngestRequest, client: TmdbClient, prefetched: dict[str, TmdbAnswer]
) -> list[str]:
    kind = request.kind or "movie"
    since = request.since or request.run_date
    items: list[str] = []
    for start, end in changes_windows(since, request.run_date):
        first = f"changes-{kind}:{start}:{end}:1"
        path, params = request_of(first, (), {})
        total = _total_pages(client.get(path, params), first, prefetched)
        items.extend(f"changes-{kind}:{start}:{end}:{page}" for page in range(1, total + 1))
    return items


def _total_pages(answer: TmdbAnswer, item: str, prefetched: dict[str, TmdbAnswer]) -> int:
    """Page 1 fixes a plan's page count, so without it no plan may be written."""
    if answer.never_connected:
        raise UsageError(
            f"cannot reach TMDB for {answer.endpoint.partition('?')[0]}: no connection could be "
            "opened; nothing was planned or written, check TMDB_BASE_URL and the network"
        )
    if not answer.ok:
        raise RunError(
            f"{answer.endpoint}: page 1 failed ({answer.error or answer.status}); nothing was "
            "planned, run the same command again"
        )
    prefetched[item] = answer
    return int(json.loads(answer.body).get("total_pages", 1) or 1)
