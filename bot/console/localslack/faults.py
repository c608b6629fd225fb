"""Faults a test asks the local Slack for: refused calls, lost answers, slow answers, outages.

Each fault is a rule saying which calls it meets (a method, "*" for any Web API method, or
"response_url"; optionally only calls about one channel, with one token, or whose arguments a
predicate accepts) and for how long (a number of calls, a number of seconds, or until cleared).
Rules for the method itself are looked at before "*" rules, each kind in the order given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from bot.console.localslack.payloads import JsonDict

Predicate = Callable[[Mapping[str, Any]], bool]
"""Decides from a call's arguments (as the method receives them) whether a fault meets it."""

LostHow = Literal["close", "timeout"]


@dataclass
class Fault:
    """Which calls a fault meets and how long it lasts; clear() ends it early."""

    method: str
    remaining: int | None
    """Calls it still meets (None: any number)."""
    channel: str | None = None
    token: str | None = None
    when: Predicate | None = None
    until: float | None = None
    """time.monotonic() after which it meets no call (None: no deadline)."""
    cleared: bool = field(default=False, init=False)

    def clear(self) -> None:
        """Stop meeting calls from now on."""
        self.cleared = True

    @property
    def spent(self) -> bool:
        """Whether it will meet no call any more."""
        return (
            self.cleared
            or (self.remaining is not None and self.remaining <= 0)
            or (self.until is not None and time.monotonic() >= self.until)
        )

    def meets(self, args: Mapping[str, Any], token: str | None) -> bool:
        """Whether a call with these arguments and token is one this fault is about."""
        if self.channel is not None and args.get("channel") != self.channel:
            return False
        if self.token is not None and token != self.token:
            return False
        return self.when is None or bool(self.when(args))


@dataclass
class Refusal(Fault):
    """The call is answered with an error instead of taking effect."""

    status: int = 500
    error: str = "internal_error"
    retry_after: int | None = None

    def answer(self) -> tuple[int, JsonDict, dict[str, str]]:
        """HTTP status, body and headers of the refusal."""
        extra = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return self.status, {"ok": False, "error": self.error}, extra


@dataclass
class LostAnswer(Fault):
    """The call takes effect, but its answer never reaches the client."""

    how: LostHow = "close"
    """"close": the connection is closed without a response; "timeout": it is held open, with
    nothing sent, until the client gives up (its timeout) or LocalSlack stops."""


@dataclass
class Delay(Fault):
    """The answer comes `seconds` later (the call takes effect only then, too)."""

    seconds: float = 0.0


F = TypeVar("F", bound=Fault)


class Faults:
    """The faults in force, and which one a call meets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._outage: int | None = None

    def add(self, fault: F) -> F:
        """Put fault in force (after those already given) and return it."""
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError(
                f"times must be at least 1 (or None for until cleared), not {fault.remaining}"
            )
        with self._lock:
            self._rules.append(fault)
        return fault

    def take(
        self,
        kind: type[F],
        method: str,
        args: Mapping[str, Any],
        token: str | None,
        *,
        web_api: bool,
    ) -> F | None:
        """The first fault of `kind` this call meets, counting the call against it."""
        with self._lock:
            self._rules = [r for r in self._rules if not r.spent]
            for key in (method, "*") if web_api else (method,):
                for rule in self._rules:
                    if isinstance(rule, kind) and rule.method == key and rule.meets(args, token):
                        if rule.remaining is not None:
                            rule.remaining -= 1
                        return rule
        return None

    def refusal(
        self, method: str, args: Mapping[str, Any], token: str | None, *, web_api: bool
    ) -> Refusal | None:
        """The refusal this call meets: a rule's, else the outage's."""
        found = self.take(Refusal, method, args, token, web_api=web_api)
        with self._lock:
            status = self._outage
        if found is None and status is not None:
            error = "ratelimited" if status == 429 else "internal_error"
            found = Refusal(
                method, None, status=status, error=error, retry_after=1 if status == 429 else None
            )
        return found

    def outage(self, status: int | None) -> None:
        """Refuse every call with status (None: end the outage)."""
        with self._lock:
            self._outage = status

    def clear(self) -> None:
        """Drop every fault and end any outage."""
        with self._lock:
            for rule in self._rules:
                rule.clear()
            self._rules.clear()
            self._outage = None


def deadline(lasting: float | None) -> float | None:
    """The time.monotonic() at which a fault given for `lasting` seconds ends."""
    return None if lasting is None else time.monotonic() + lasting
