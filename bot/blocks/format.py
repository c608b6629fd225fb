"""Formatting for Slack: mrkdwn escaping, mentions, dates, durations, status icons."""

from __future__ import annotations

from datetime import datetime, timedelta

from orders_core.errors import Formatter
from orders_core.lifecycle import OrderStatus

STATUS_ICON = {
    OrderStatus.NEW: ":new:",
    OrderStatus.PENDING_CONFIRMATION: ":hourglass_flowing_sand:",
    OrderStatus.IN_DEVELOPMENT: ":hammer_and_wrench:",
    OrderStatus.UNDER_APPROVAL: ":mag:",
    OrderStatus.COMPLETED: ":white_check_mark:",
    OrderStatus.CANCELED: ":x:",
}


def escape(text: str) -> str:
    """User text made safe for mrkdwn: `&`, `<` and `>` escaped, so `<!channel>` stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str | None) -> str:
    """A user as Slack shows them: <@U123>."""
    return f"<@{user_id}>" if user_id else "the bot"


def when(at: datetime) -> str:
    """A time every reader sees in their own time zone, with a UTC fallback."""
    epoch = int(at.timestamp())
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def duration(delta: timedelta) -> str:
    """How long, roughly: `5 min`, `3 h`, `2 days`."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def status_text(status: OrderStatus) -> str:
    """`:mag: Under Approval`."""
    return f"{STATUS_ICON[status]} {status.label}"


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


SLACK_FORMAT = Formatter(user=mention, time=when, code=lambda text: f"`{escape(text)}`")
"""How domain error messages read in Slack."""
