"""Which SLA policy a ticket gets, and why the others did not match (docs/sla.md, "Policies").

The first active policy by position (lowest first) whose conditions all hold; `default`,
which has none, comes last and always holds. Within one condition several values mean
any of them. Pure: the services load the policies and the ticket's facts; the same rule
written in SQL, for imports, is services/sla/policy.match_sql (a test holds them equal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

DEFAULT = "default"
# The conditions in the order they are checked and shown: (key, what the ticket has).
KEYS = (("tier", "tier"), ("company", "company"), ("team", "team"), ("category", "category"), ("tag", "tags"))


@dataclass(frozen=True)
class Conditions:
    """Each a tuple of values the ticket's must be one of; empty = any."""

    tier: tuple[str, ...] = ()
    company: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()

    def given(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(key, getattr(self, key)) for key, _ in KEYS if getattr(self, key)]

    def as_dict(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.given()}

    def text(self) -> str:
        """``tier=premium,enterprise team=billing``, or ``none``."""
        return " ".join(f"{key}={','.join(values)}" for key, values in self.given()) or "none"


@dataclass(frozen=True)
class Facts:
    """What the conditions look at: the customer's tier and company, the ticket's team (slug),
    category and tags."""

    tier: str | None = None
    company: str | None = None
    team: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Rule:
    name: str
    position: int | None  # None: the default policy, matched last
    conditions: Conditions = Conditions()
    active: bool = True


@dataclass(frozen=True)
class Step:
    """One line of a match trace: a policy, whether it matched, and why."""

    rule: Rule
    matched: bool
    reason: str


def _one_of(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else "one of " + ", ".join(values)


def mismatch(conditions: Conditions, facts: Facts) -> str | None:
    """Why the facts miss the conditions (the first condition that fails), or None when all hold."""
    for key, attribute in KEYS:
        wanted = getattr(conditions, key)
        if not wanted:
            continue
        have = getattr(facts, attribute)
        if key == "tag":
            if not set(have) & set(wanted):
                return f"no tag {wanted[0]}" if len(wanted) == 1 else f"none of the tags {', '.join(wanted)}"
        elif have not in wanted:
            return f"{key} is {have if have is not None else 'none'}, not {_one_of(wanted)}"
    return None


def in_order(rules: Iterable[Rule]) -> list[Rule]:
    """Active rules by position, the default last."""
    return sorted((r for r in rules if r.active), key=lambda r: (r.position is None, r.position or 0, r.name))


def trace(rules: Iterable[Rule], facts: Facts) -> list[Step]:
    """Every active policy in the order tried, each matched or not with the reason; the first
    matched is the ticket's."""
    steps = []
    for rule in in_order(rules):
        why = mismatch(rule.conditions, facts)
        held = rule.conditions.text()
        reason = why if why is not None else ("no conditions" if held == "none" else f"matched {held}")
        steps.append(Step(rule, why is None, reason))
    return steps


def choose(rules: Sequence[Rule], facts: Facts) -> Rule:
    """The ticket's policy: the first active one whose conditions all hold."""
    for rule in in_order(rules):
        if mismatch(rule.conditions, facts) is None:
            return rule
    raise ValueError("no SLA policy matches, not even the default one")


def explained(steps: list[Step]) -> list[str]:
    """The trace up to the chosen policy as a person reads it: ``skipped gold (position 5):
    tier is basic, not enterprise`` … ``enterprise (position 10) matched tier=enterprise``."""
    lines = []
    for step in steps:
        where = f"position {step.rule.position}" if step.rule.position is not None else "matched last"
        if not step.matched:
            lines.append(f"skipped {step.rule.name} ({where}): {step.reason}")
            continue
        lines.append(f"{step.rule.name} ({where}) {step.reason}" if step.reason.startswith("matched")
                     else f"{step.rule.name} ({where}): {step.reason}")
        break
    return lines
