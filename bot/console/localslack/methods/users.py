"""users.info and team.info: the people and workspaces the app asks about."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.console.localslack.payloads import JsonDict
from bot.console.localslack.state import Request, SlackError, SlackState


def users_info(state: SlackState, request: Request) -> JsonDict:
    """users.info: the profile set with set_user (time zone included)."""
    user_id = str(request.args.get("user") or "")
    if not user_id:
        raise SlackError("user_not_found")
    profile = state.user(user_id)
    offset, label = _tz_offset(profile.tz)
    team_id = profile.team_id or request.workspace.team_id
    return {
        "ok": True,
        "user": {
            "id": profile.id,
            "team_id": team_id,
            "name": profile.name,
            "deleted": False,
            "real_name": profile.real_name,
            "tz": profile.tz,
            "tz_label": label,
            "tz_offset": offset,
            "is_bot": profile.is_bot,
            "is_admin": False,
            "is_owner": False,
            "is_app_user": False,
            "profile": {
                "real_name": profile.real_name,
                "display_name": profile.name,
                "email": profile.email,
                "team": team_id,
            },
        },
    }


def team_info(state: SlackState, request: Request) -> JsonDict:
    """team.info: the token's workspace, or the one asked for."""
    team_id = request.args.get("team")
    workspace = state.workspace_for_team(str(team_id)) if team_id else request.workspace
    team: JsonDict = {
        "id": workspace.team_id,
        "name": workspace.team_name,
        "domain": workspace.team_domain,
        "email_domain": "",
        "icon": {"image_default": True},
    }
    if workspace.enterprise_id:
        team["enterprise_id"] = workspace.enterprise_id
    return {"ok": True, "team": team}


def _tz_offset(tz: str) -> tuple[int, str]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return 0, tz
    moment = datetime.fromtimestamp(time.time(), zone)
    offset = moment.utcoffset()
    return (int(offset.total_seconds()) if offset else 0), moment.tzname() or tz


METHODS = {
    "users.info": users_info,
    "team.info": team_info,
}
