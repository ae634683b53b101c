"""Escalation ladders (docs/escalation.md): the step language, and which steps fire.

A step is space-separated `key=value` words, e.g. `at=75% metric=resolution notify=assignee`:

- `at=N%` fires when N% of the cycle's target has elapsed on the cycle's own clock;
  `at=+2h` / `at=-30m` fires that long after / before the cycle is due, on the same clock
  (at due itself is `at=100%`);
- `metric=response|next_reply|resolution` limits it to one metric (default: every metric);
- actions, at least one: `notify=assignee|lead|leads|EMAIL` (repeatable, or comma-separated),
  `escalate`, `reassign=team|senior|EMAIL`;
- `repeat=DUR` fires it again every DUR of the clock after that, `max=N` times in all.

Every step is reduced to a *threshold*: the cycle time still to run (negative once past
due) at or below which it is due. Time only runs one way, so a smaller threshold is a later
step: "the latest step that has come due" is the due firing with the smallest threshold,
whatever order the steps were written in, and on whatever clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from supportctl.domain.durations import format_duration, parse_duration
from supportctl.domain.enums import Metric

NOTIFY_KEYWORDS = ("assignee", "lead", "leads")
REASSIGN_KEYWORDS = ("team", "senior")
KEYS = ("at", "metric", "notify", "escalate", "reassign", "repeat", "max")
MAX_STEPS = 20
MAX_REPEATS = 100  # `max=`: a repeat that never stops is the noise leads complain of
DEFAULT_REPEATS = 10
MIN_REPEAT = timedelta(minutes=1)
_PERCENT = re.compile(r"(\d{1,4})%", re.ASCII)
_OFFSET = re.compile(r"([+-])(.+)", re.ASCII)
_EXAMPLE = "e.g. 'at=75% notify=assignee' or 'at=+2h metric=resolution reassign=senior'"


class StepError(ValueError):
    """A step spec that cannot be read; the message says which word and why."""


@dataclass(frozen=True)
class Firing:
    """One firing of a step: its number (from 1) and which repeat (0 = the first time)."""

    step: int
    repeat: int


@dataclass(frozen=True)
class Step:
    number: int
    percent: int | None = None  # at=N%
    offset: int | None = None  # at=±D, seconds from due
    metric: str | None = None  # None: every metric
    notify: tuple[str, ...] = ()  # keywords or email addresses, in the order given
    escalate: bool = False
    reassign: str | None = None  # team, senior or an email address
    repeat: int | None = None  # seconds
    max: int = 1

    @property
    def at(self) -> str:
        if self.percent is not None:
            return f"{self.percent}%"
        return ("-" if self.offset < 0 else "+") + format_duration(timedelta(seconds=abs(self.offset)))

    @property
    def actions(self) -> list[tuple[str, str | None]]:
        """(action, argument) in the order the step carries them out: the ticket changes
        first, so a notification reaches whoever holds it afterwards."""
        done: list[tuple[str, str | None]] = [("escalate", None)] if self.escalate else []
        if self.reassign:
            done.append(("reassign", self.reassign))
        return done + [("notify", n) for n in self.notify]

    def applies_to(self, metric: str) -> bool:
        return self.metric is None or self.metric == metric

    def threshold(self, target_seconds: int, repeat: int = 0) -> float:
        """The cycle time left (seconds, negative past due) at which this firing comes due."""
        first = (100 - self.percent) / 100 * target_seconds if self.percent is not None else -self.offset
        return first - repeat * (self.repeat or 0)

    def text(self) -> str:
        """The canonical spec; `parse_step` reads it back to the same step."""
        words = [f"at={self.at}"]
        if self.metric:
            words.append(f"metric={self.metric}")
        words += [f"notify={n}" for n in self.notify]
        if self.escalate:
            words.append("escalate")
        if self.reassign:
            words.append(f"reassign={self.reassign}")
        if self.repeat:
            words += [f"repeat={format_duration(timedelta(seconds=self.repeat))}", f"max={self.max}"]
        return " ".join(words)

    def stored(self) -> dict:
        return {"number": self.number, "percent": self.percent, "offset": self.offset, "metric": self.metric,
                "notify": list(self.notify), "escalate": self.escalate, "reassign": self.reassign,
                "repeat": self.repeat, "max": self.max}

    @classmethod
    def from_stored(cls, data: dict) -> Step:
        return cls(**{**data, "notify": tuple(data["notify"])})


def _duration(word: str, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise StepError(f"{word}: {exc}") from None


def parse_step(number: int, spec: str, email=lambda text: text.lower()) -> Step:
    """Read one step spec; `email` checks an address (raising ValueError). StepError says why not."""
    words = spec.split()
    if not words:
        raise StepError(f"the step is empty ({_EXAMPLE})")
    given: dict[str, str] = {}
    notify: list[str] = []
    escalate = False
    for word in words:
        key, has_value, value = word.partition("=")
        key = key.lower()
        if key not in KEYS:
            raise StepError(f"{word!r}: unknown key {key!r} (keys: {', '.join(KEYS)})")
        if key == "escalate":
            if has_value or escalate:
                raise StepError(f"{word!r}: `escalate` takes no value and is given once")
            escalate = True
            continue
        if not value:
            raise StepError(f"{word!r}: {key} needs a value, as in {key}=…")
        if key == "notify":
            for target in value.split(","):
                target = target.strip().lower()
                if target not in NOTIFY_KEYWORDS:
                    if "@" not in target:
                        raise StepError(f"{word!r}: notify= takes {', '.join(NOTIFY_KEYWORDS)} or an email address")
                    target = _address(word, target, email)
                if target in notify:
                    raise StepError(f"{word!r}: {target} is notified twice")
                notify.append(target)
            continue
        if key in given:
            raise StepError(f"{word!r}: {key}= is given twice")
        given[key] = value
    if "at" not in given:
        raise StepError(f"the step has no at= ({_EXAMPLE})")
    percent = offset = None
    at = given["at"]
    if m := _PERCENT.fullmatch(at):
        percent = int(m.group(1))
        if not 0 < percent <= 1000:
            raise StepError(f"at={at}: a share of the target must be 1% to 1000%")
    elif m := _OFFSET.fullmatch(at):
        offset = int(_duration(f"at={at}", m.group(2)).total_seconds()) * (-1 if m.group(1) == "-" else 1)
    else:
        raise StepError(f"at={at}: expected a share of the target (at=75%) or an offset from due (at=+2h, at=-30m)")
    metric = None
    if "metric" in given:
        metric = given["metric"].lower()
        if metric not in tuple(Metric):
            raise StepError(f"metric={given['metric']}: not one of {', '.join(Metric)}")
    reassign = None
    if "reassign" in given:
        reassign = given["reassign"].lower()
        if reassign not in REASSIGN_KEYWORDS:
            if "@" not in reassign:
                raise StepError(f"reassign={given['reassign']}: expected team, senior or an agent's email")
            reassign = _address(f"reassign={given['reassign']}", reassign, email)
    repeat, repeats = None, 1
    if "repeat" in given:
        every = _duration(f"repeat={given['repeat']}", given["repeat"])
        if every < MIN_REPEAT:
            raise StepError(f"repeat={given['repeat']}: repeat at most once a minute")
        repeat, repeats = int(every.total_seconds()), DEFAULT_REPEATS
    if "max" in given:
        if repeat is None:
            raise StepError(f"max={given['max']}: max= counts repeats; give repeat= too")
        if not given["max"].isdigit() or not 1 <= int(given["max"]) <= MAX_REPEATS:
            raise StepError(f"max={given['max']}: expected a whole number from 1 to {MAX_REPEATS}")
        repeats = int(given["max"])
    if not (notify or escalate or reassign):
        raise StepError("the step does nothing: give notify=, escalate or reassign=")
    return Step(number, percent, offset, metric, tuple(notify), escalate, reassign, repeat, repeats)


def _address(word: str, text: str, email) -> str:
    try:
        return email(text)
    except ValueError as exc:
        raise StepError(f"{word!r}: {exc}") from None


def parse_steps(specs: list[str], email=lambda text: text.lower()) -> list[Step]:
    """Every step, numbered from 1; the first bad one raises StepError naming it."""
    if not specs:
        raise StepError(f"a ladder needs at least one --step ({_EXAMPLE})")
    if len(specs) > MAX_STEPS:
        raise StepError(f"a ladder has at most {MAX_STEPS} steps")
    steps = []
    for number, spec in enumerate(specs, 1):
        try:
            steps.append(parse_step(number, spec, email))
        except StepError as exc:
            raise StepError(f"step {number} ({spec.strip()!r}): {exc}") from None
    return steps


def due(steps: list[Step], metric: str, target_seconds: int, left: float,
        claimed: set[Firing]) -> tuple[list[Firing], list[Firing]]:
    """(fire, skip) for a cycle with `left` seconds of its clock to run (negative past due):
    of the firings that have come due and are not claimed yet, the latest (smallest
    threshold; ties fire together) fire, the earlier ones are skipped: after downtime one
    step fires, not a burst of them."""
    open_: list[tuple[float, Firing]] = []
    for step in steps:
        if not step.applies_to(metric):
            continue
        for repeat in range(step.max):
            threshold = step.threshold(target_seconds, repeat)
            if left > threshold:
                break  # later repeats come due later still
            firing = Firing(step.number, repeat)
            if firing not in claimed:
                open_.append((threshold, firing))
    if not open_:
        return [], []
    latest = min(threshold for threshold, _ in open_)
    fire = [f for threshold, f in open_ if threshold == latest]
    skip = [f for threshold, f in open_ if threshold != latest]
    return fire, skip
