"""Retry rounds for what still failed, and the counts of a plan with its rounds folded in.

A round is a phase of its own (`retry1-find`...), so committed batches never change and a
round resumes like any phase.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cinelake.tmdb.engine import PhaseRunner, phase_started
from cinelake.tmdb.find_hits import FindTally
from cinelake.tmdb.phase import PhaseContext, PhaseResult
from cinelake.tmdb.planning import Plan
from cinelake.tmdb.plans import (
    unique,
)
from cinelake.tmdb.request import PlanName, TmdbIngestRequest

MAX_RETRY_ROUNDS = 5
"""Later runs that ask again for failed items; past this, what still fails is final."""


@dataclass
class RetryRound:
    number: int
    name: str
    family: str
    result: PhaseResult
    replaced: int
    """Items of this phase that an earlier round counted as failed: this round decides them."""


def retry_rounds(
    ctx: PhaseContext,
    request: TmdbIngestRequest,
    phases: list[tuple[str, PhaseResult]],
    details_items: list[str],
) -> tuple[bool, list[RetryRound], bool]:
    """Ask again for the items whose retries ran out: at most one new round per later run.

    Round N fetches what was still failed after round N-1 into phases of its own
    (`retry1-find`, `retry1-details`...), so the batches of committed phases never change and a
    round resumes like any phase. Follow-up items a round discovers go to its own details
    phase. Rounds finished by earlier runs are replayed from their markers without a request.
    Returns whether every round this run reached is complete, the rounds, and whether a later
    run has a round left to do (after `MAX_RETRY_ROUNDS`, what still fails is final).
    """
    results = dict(phases)
    first_name = first_phase_name(request.plan)
    failed_first = list(results[first_name].failed) if first_name in results else []
    failed_details = list(results["details"].failed) if "details" in results else []
    attempted = set(details_items)
    rounds: list[RetryRound] = []
    number = 0
    while failed_first or failed_details:
        if number == MAX_RETRY_ROUNDS:
            return True, rounds, False
        number += 1
        # `retry1-find`, never `find-retry1`: files are found by the `<phase>-` name prefix, so
        # no phase name may start with another's.
        names = (f"retry{number}-{first_name}", f"retry{number}-details")
        # A run that has asked TMDB anything (these items' retries included) leaves a new
        # round to a later run: asking again at once only doubles the attempts.
        asked_already = ctx.client.stats.requests > ctx.requests_before or ctx.should_stop()
        if asked_already and not any(phase_started(ctx, name) for name in names):
            return True, rounds, True
        new_children: list[str] = []
        next_failed_first: list[str] = []
        if failed_first:
            result = PhaseRunner(ctx, names[0], failed_first, request.batch_size).run()
            rounds.append(RetryRound(number, names[0], first_name, result, len(failed_first)))
            if not result.complete:
                return False, rounds, True
            next_failed_first = result.failed
            if request.plan != "discover":
                new_children = [c for c in unique(result.children) if c not in attempted]
                attempted.update(new_children)
        next_failed_details: list[str] = []
        retry_details = unique([*failed_details, *new_children])
        if retry_details:
            result = PhaseRunner(ctx, names[1], retry_details, request.batch_size).run()
            rounds.append(RetryRound(number, names[1], "details", result, len(failed_details)))
            if not result.complete:
                return False, rounds, True
            next_failed_details = result.failed
        failed_first, failed_details = next_failed_first, next_failed_details
    return True, rounds, False


@dataclass
class Tally:
    state_counts: Counter[str]
    items: int
    details_landed: int = 0


def fold_rounds(
    phases: list[tuple[str, PhaseResult]], rounds: list[RetryRound]
) -> dict[str, Tally]:
    """Each phase with its retry rounds folded in: a round re-decides what was failed."""
    families = {
        name: Tally(Counter(r.state_counts), r.items, r.details_landed) for name, r in phases
    }
    for retry in rounds:
        if not retry.result.complete:
            continue  # folded in once finished: until then the earlier tally stands
        tally = families.setdefault(retry.family, Tally(Counter(), 0))
        tally.state_counts["failed"] -= retry.replaced
        tally.state_counts.update(retry.result.state_counts)
        tally.items += retry.result.items - retry.replaced
        tally.details_landed += retry.result.details_landed
    return families


def fold_find_counts(phases: list[tuple[str, PhaseResult]], rounds: list[RetryRound]) -> FindTally:
    """A lookup is counted where it landed: a failed one carries no find counts to replace."""
    tally = FindTally()
    for _, result in phases:
        tally.merge(result.find)
    for retry in rounds:
        if retry.result.complete:
            tally.merge(retry.result.find)
    return tally


def first_phase_name(plan: PlanName) -> str:
    return {
        "from-csv": "find",
        "ids": "find",
        "discover": "discover",
        "changes": "changes",
        "refresh": "changes",
    }[plan]


def plan_counts(families: dict[str, Tally], plan: Plan) -> dict[str, int]:
    """`landed` counts titles whose details landed (pages, for discover), however asked for."""
    requested = len(plan.first_items) + len(plan.direct_details)
    if plan.spec.plan == "refresh":
        requested = len(plan.direct_details)  # the pages are how, the titles are what
    counts: dict[str, int] = {"requested": requested, "landed": 0, "not_found": 0, "failed": 0}
    final_phase = "discover" if plan.spec.plan == "discover" else "details"
    counts["landed"] = sum(tally.details_landed for tally in families.values())
    for name, tally in families.items():
        for state in ("landed", "not_found", "failed"):
            number = tally.state_counts[state]
            counts[f"{name}_{state}"] = number
            if state != "landed":
                counts[state] += number
        if name == final_phase:
            counts["landed"] += tally.state_counts["landed"]
        counts[f"{name}_items"] = tally.items
    return counts
