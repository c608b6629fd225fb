"""Slack's rate limits, enforced: calls over a method's per-workspace rate, or over a channel's
post rate, are answered HTTP 429 {"ok": false, "error": "ratelimited"} with Retry-After, and
are not carried out.

Slack counts calls "per API method per workspace per app" in windows of a minute (the tiers),
and chat.postMessage also per channel (about one a second, short bursts allowed). Here each
(workspace, method) and each (workspace, method, channel) that a limit applies to keeps the
arrival times of the calls it let through in the last `seconds` (a sliding window); a call
that finds `calls` of them there is refused, with Retry-After the whole seconds until the
oldest leaves the window. Refused calls are not counted (a client that waits Retry-After gets
in). A call that was let through counts even when the method then answers an error, as at
Slack.

SLACK_TABLE below is the one place the numbers live, each row with where it comes from.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["workspace", "channel"]


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls in any `seconds` (a sliding window)."""

    calls: int
    seconds: float = 60.0
    name: str = ""
    """What Slack calls it ("Tier 3"), for the record of a refused call."""

    def __post_init__(self) -> None:
        if self.calls < 1 or self.seconds <= 0:
            raise ValueError(f"a limit needs calls >= 1 and seconds > 0, not {self!r}")

    def describe(self) -> str:
        """E.g. "Tier 3: 50 per 60 s"."""
        rate = f"{self.calls} per {self.seconds:g} s"
        return f"{self.name}: {rate}" if self.name else rate


TIER_1 = Limit(1, 60.0, "Tier 1")
TIER_2 = Limit(20, 60.0, "Tier 2")
TIER_3 = Limit(50, 60.0, "Tier 3")
TIER_4 = Limit(100, 60.0, "Tier 4")


@dataclass(frozen=True)
class Row:
    """One line of the table: a method's limit, what it is counted per, and its source."""

    method: str
    per: Scope
    limit: Limit
    source: str


# Where the numbers come from (each read 2025):
RATE_LIMITS_PAGE = "https://docs.slack.dev/apis/web-api/rate-limits"
"""Slack's page: the tiers (Tier 1 1+/min, Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min),
counted "per API method per workspace/team per app", minute windows; "Posting messages: 1 per
second, short bursts >1 allowed"; chat.postMessage "generally allows posting one message per
second per channel, while also maintaining a workspace-wide limit"; a 429 carries Retry-After."""
JAVA_SDK_TIERS = (
    "slackapi/java-slack-sdk MethodsRateLimits.java (Slack's own SDK: each method's tier, as on "
    "the method's reference page)"
)
JAVA_SDK_SPECIAL = (
    "slackapi/java-slack-sdk MethodsRateLimitTier.java: chat.postMessage 'will generally allow "
    "an app to post 1 message per second to a specific channel', and above that 'limiting "
    "posting to several hundred messages per minute' per workspace; chat.getPermalink and "
    "auth.test 'allow hundreds of requests per minute' (the SDK uses 600)"
)

SLACK_TABLE: tuple[Row, ...] = (
    # chat.*
    Row(
        "chat.postMessage",
        "channel",
        Limit(5, 5.0, "1 per second per channel, short bursts"),
        f"{RATE_LIMITS_PAGE}; {JAVA_SDK_SPECIAL}. The burst (5 at once, then 1 a second on "
        "average) is ours: Slack publishes none",
    ),
    Row(
        "chat.postMessage",
        "workspace",
        Limit(300, 60.0, "several hundred per minute per workspace"),
        f"{JAVA_SDK_SPECIAL}. 300 is ours: the low end of 'several hundred'",
    ),
    Row("chat.update", "workspace", TIER_3, JAVA_SDK_TIERS),
    Row("chat.delete", "workspace", TIER_3, JAVA_SDK_TIERS),
    Row("chat.postEphemeral", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row(
        "chat.getPermalink",
        "workspace",
        Limit(600, 60.0, "special: hundreds per minute"),
        JAVA_SDK_SPECIAL,
    ),
    # conversations.*: conversations.history and .replies are Tier 3 for internal and
    # Marketplace apps; since 2025 Slack gives commercially distributed non-Marketplace apps
    # 1 a minute (15 messages a page) instead (RATE_LIMITS_PAGE): not modelled.
    Row("conversations.history", "workspace", TIER_3, JAVA_SDK_TIERS),
    Row("conversations.replies", "workspace", TIER_3, JAVA_SDK_TIERS),
    Row("conversations.open", "workspace", TIER_3, JAVA_SDK_TIERS),
    Row("conversations.info", "workspace", TIER_3, JAVA_SDK_TIERS),
    # views.*: views.publish is also limited per user by Slack (unpublished numbers): not
    # modelled.
    Row("views.open", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("views.push", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("views.update", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("views.publish", "workspace", TIER_4, JAVA_SDK_TIERS),
    # users, team, files, OAuth, Socket Mode
    Row("users.info", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("team.info", "workspace", TIER_3, JAVA_SDK_TIERS),
    Row("files.info", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("files.getUploadURLExternal", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("files.completeUploadExternal", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("oauth.v2.access", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row("api.test", "workspace", TIER_4, JAVA_SDK_TIERS),
    Row(
        "apps.connections.open",
        "workspace",
        Limit(10, 60.0, "Tier 1: 1+ per minute, a small burst tolerated"),
        f"{JAVA_SDK_TIERS}; {RATE_LIMITS_PAGE} (Tier 1 'tolerates a small amount of burst "
        "behavior'). An app may hold 10 Socket Mode connections, each opened by this call, "
        "so 10 a minute (per app: its token is the app's) is ours, to let them open together",
    ),
    # auth.test is special ("hundreds per minute", JAVA_SDK_SPECIAL) and not limited here:
    # Bolt and slack_sdk call it on their own (at start, per installation), never in bulk.
    # A method not in the table is not limited.
)


@dataclass(frozen=True)
class Tiers:
    """The limits in force: per (workspace, method), and per (workspace, method, channel)."""

    workspace: Mapping[str, Limit] = field(default_factory=dict)
    """method -> its limit per workspace (per app, for app-level and tokenless calls)."""
    channel: Mapping[str, Limit] = field(default_factory=dict)
    """method -> its limit per channel of a workspace (calls without a channel: none)."""

    @classmethod
    def from_table(cls, rows: Iterable[Row]) -> Tiers:
        """The limits of a table of rows (a later row for the same method and scope wins)."""
        workspace: dict[str, Limit] = {}
        channel: dict[str, Limit] = {}
        for row in rows:
            (channel if row.per == "channel" else workspace)[row.method] = row.limit
        return cls(workspace, channel)

    def with_limits(
        self,
        workspace: Mapping[str, Limit | None] | None = None,
        channel: Mapping[str, Limit | None] | None = None,
    ) -> Tiers:
        """These limits with some replaced (None: that method no longer limited there).

        E.g. SLACK_TIERS.with_limits({"chat.update": Limit(5, 2.0)}) for a test that wants
        to see chat.update refused without making 50 calls."""
        return Tiers(_merged(self.workspace, workspace), _merged(self.channel, channel))


SLACK_TIERS = Tiers.from_table(SLACK_TABLE)
"""Slack's limits as SLACK_TABLE gives them: LocalSlack's default."""


@dataclass(frozen=True)
class Refused:
    """A call over a limit: how long to wait, and which window refused it."""

    retry_after: int
    window: str
    """E.g. "chat.update per workspace T0DEMO (Tier 3: 50 per 60 s)"."""


_Key = tuple[str, str, str | None]
"""(method, workspace key, channel or None)."""


class RateWindows:
    """The sliding windows of the calls let through, and the check of each new call."""

    def __init__(self, tiers: Tiers | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.tiers = tiers
        self.clock = clock
        """Seconds that never go back (time.monotonic, or a clock a test moves)."""
        self._lock = threading.Lock()
        self._windows: dict[_Key, deque[float]] = {}

    def admit(
        self, method: str, workspace: str, channel: str | None = None, now: float | None = None
    ) -> Refused | None:
        """Count the call (arrived `now`, by default the clock's now) in its windows and
        return None; or, when one of them is full, count nothing and return why it is
        refused."""
        limits = self._limits(method, workspace, channel)
        if not limits:
            return None
        if now is None:
            now = self.clock()
        with self._lock:
            refused: Refused | None = None
            windows = []
            for key, limit, what in limits:
                window = self._window(key, limit, now)
                windows.append(window)
                if len(window) >= limit.calls:
                    wait = max(1, math.ceil(window[0] + limit.seconds - now))
                    if refused is None or wait > refused.retry_after:
                        refused = Refused(wait, f"{what} ({limit.describe()})")
            if refused is None:
                for window in windows:
                    window.append(now)
            return refused

    def room(self, method: str, workspace: str, channel: str | None = None) -> int | None:
        """Calls that would be let through now (None: the method is not limited)."""
        limits = self._limits(method, workspace, channel)
        if not limits:
            return None
        now = self.clock()
        with self._lock:
            return min(limit.calls - len(self._window(key, limit, now)) for key, limit, _ in limits)

    def clear(self) -> None:
        """Forget every call counted."""
        with self._lock:
            self._windows.clear()

    def _limits(
        self, method: str, workspace: str, channel: str | None
    ) -> list[tuple[_Key, Limit, str]]:
        tiers = self.tiers
        if tiers is None:
            return []
        found: list[tuple[_Key, Limit, str]] = []
        limit = tiers.workspace.get(method)
        if limit is not None:
            found.append(((method, workspace, None), limit, f"{method} per workspace {workspace}"))
        limit = tiers.channel.get(method)
        if limit is not None and channel:
            found.append(((method, workspace, channel), limit, f"{method} per channel {channel}"))
        return found

    def _window(self, key: _Key, limit: Limit, now: float) -> deque[float]:
        """The window of key, without the calls that have left it (the caller holds the lock)."""
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - limit.seconds:
            window.popleft()
        return window


def peak(times: Iterable[float], seconds: float) -> int:
    """The most of these moments that fall within any `seconds` (a window that starts at one
    of them and lasts less than `seconds`, as RateWindows counts)."""
    ordered = sorted(times)
    most = start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def _merged(
    base: Mapping[str, Limit], changes: Mapping[str, Limit | None] | None
) -> dict[str, Limit]:
    merged = dict(base)
    for method, limit in (changes or {}).items():
        if limit is None:
            merged.pop(method, None)
        else:
            merged[method] = limit
    return merged
