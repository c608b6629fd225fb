"""The OAuth scopes the code needs: each Web API method it calls, and each feature it uses.

tests/unit/test_manifest.py finds every Web API call in `bot/` and checks that manifest.yml
declares exactly the scopes these tables say they need — no more, no fewer.
"""

from __future__ import annotations

METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "chat_getPermalink": None,
    "conversations_open": "im:write",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "views_open": None,
    "views_push": None,
    "views_update": None,
    "views_publish": None,
    "users_info": "users:read",
}

FEATURE_SCOPES: dict[str, str] = {
    "commands": "the /orders slash command",
    "files:read": "file_input in the Reject (approval) and Submit for approval modals",
    # After a post timed out, the retry reads the conversation back to find it (never to read
    # anyone else's messages): in private channels and direct messages too.
    "groups:history": "finding a timed-out post in a private channel before posting again",
    "im:history": "finding a timed-out direct message before sending it again",
}


BOT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "groups:history",
    "im:history",
    "im:write",
)
"""What an installation asks for (OAuth) and manifest.yml declares; a test keeps them equal to
what the code needs."""
