"""auth.test and oauth.v2.access: who a token is, and installing the app into a workspace."""

from __future__ import annotations

import copy

from bot.console.localslack.payloads import JsonDict
from bot.console.localslack.state import Request, SlackError, SlackState


def auth_test(state: SlackState, request: Request) -> JsonDict:
    """auth.test: the workspace and bot user of the token."""
    workspace = request.workspace
    answer: JsonDict = {
        "ok": True,
        "url": f"https://{workspace.team_domain}.slack.com/",
        "team": workspace.team_name,
        "user": workspace.bot_name,
        "team_id": workspace.team_id,
        "user_id": workspace.bot_user_id,
        "bot_id": workspace.bot_id,
        "is_enterprise_install": False,
    }
    if workspace.enterprise_id:
        answer["enterprise_id"] = workspace.enterprise_id
    return answer


def oauth_v2_access(state: SlackState, request: Request) -> JsonDict:
    """oauth.v2.access: the installation registered for the code (add_installation)."""
    installation = state.installations.get(str(request.args.get("code") or ""))
    if installation is None:
        raise SlackError("invalid_code")
    return copy.deepcopy(installation)


METHODS = {
    "auth.test": auth_test,
    "oauth.v2.access": oauth_v2_access,
}
