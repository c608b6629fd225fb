"""Formatting for Slack: mrkdwn escaping, mentions, links, dates, ages, status icons.

Two rules hold for everything bot/ draws.

**Escape what others wrote.** Everything a user typed and every value that came in a payload
(names, reasons, numbers, file names and URLs, ids) goes through `escape` before it is put into
mrkdwn, fallback `text` included: `<!channel>` typed in a reason must stay text, not notify a
channel. Links, mentions and channel names are built by `link`, `mention` and `channel_link`,
which escape their parts; Slack's date tokens (`when`) are the only `<…>` we write ourselves.

**Say when, not how long ago, in anything that stays.** Slack shows a message as it was drawn
for as long as it stays, so "Pending Confirmation for 1 min" drawn at 09:00 still says so the
next day. What stays where people come back to it says *when*, with a `<!date^…>` token that
each reader's client renders in their own time zone against their own today (`since`,
`status_age(..., fresh=False)`): channel cards and the notices on them, direct messages, a
collapsed digest, the Home tab (redrawn only when an order changes). A relative age
(`duration`, `status_age(..., fresh=True)`) belongs only in text drawn fresh for a reader at
the moment they look: the ephemeral answers to `/orders` (list, search, view and their redraws
after a click), modals (the detail, lists), and a reminder digest as it is posted (or redrawn
when one of its orders changes): it says what is overdue now, and the next digest folds it into
one line that says when it was posted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

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

LINK_URL_LIMIT = 2000
"""A longer URL is not linked (its label is still shown), so a file's line fits a section."""

# Characters a URL keeps as they are; everything else (`<`, `>`, `|`, spaces, quotes, non-ASCII)
# is percent-encoded, so nothing in a URL can end the `<url|label>` token early.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


def escape(text: str) -> str:
    """User text made safe for mrkdwn: `&`, `<` and `>` escaped, so `<!channel>` stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """`<url|label>` that neither part can break; just the label unless the URL is http(s)."""
    # Slack ends a link's label at its first `|`: a lookalike keeps the rest of the name visible.
    text = escape(label.replace("|", "¦"))
    safe_url = escape(quote(url, safe=_URL_SAFE))
    if not safe_url.startswith(("https://", "http://")) or len(safe_url) > LINK_URL_LIMIT:
        return text
    return f"<{safe_url}|{text}>"


def unescape(text: str) -> str:
    """A message's text as Slack sends it (`&lt;`, `&gt;`, `&amp;`) back to what was typed;
    mentions and links stay as Slack wrote them (`<@U123>`), shown as text when repeated."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(user_id: str | None) -> str:
    """A user as Slack shows them: <@U123>."""
    return f"<@{escape(user_id)}>" if user_id else "the bot"


def channel_link(channel_id: str) -> str:
    """A channel as Slack shows it: <#C123>."""
    return f"<#{escape(channel_id)}>"


def when(at: datetime) -> str:
    """A time every reader sees in their own time zone, with a UTC fallback."""
    epoch = int(at.timestamp())
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def since(at: datetime) -> str:
    """`since today at 09:00`: true for as long as the text stays."""
    return f"since {when(at)}"


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


def status_age(status: OrderStatus, changed_at: datetime, now: datetime, *, fresh: bool) -> str:
    """`:mag: Under Approval for 3 h` when drawn fresh for a reader, else `… since <date>`."""
    if fresh:
        return f"{status_text(status)} for {duration(now - changed_at)}"
    return f"{status_text(status)} {since(changed_at)}"


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slash_command(name: str, arg: str = "") -> str:
    """One of `/orders`'s subcommands as a person types it: `/orders search 12`."""
    return f"`{escape(f'/orders {name} {arg}'.strip())}`"


SLACK_FORMAT = Formatter(
    user=mention,
    time=when,
    code=lambda text: f"`{escape(text)}`",
    text=escape,
    command=slash_command,
)
"""How domain error messages read in Slack."""


FIELD_ERROR_FORMAT = Formatter(
    code=lambda text: f"“{text}”",
    command=lambda name, arg: f"“{f'/orders {name} {arg}'.strip()}”",
)
"""How domain error messages read under a modal's field (`response_action: errors`), which Slack
shows as plain text: nothing escaped (an `&` would read `&amp;`), no mrkdwn."""
