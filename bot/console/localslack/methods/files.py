"""files.*: describing files, and the two-step external upload."""

from __future__ import annotations

import copy

from bot.console.localslack.payloads import JsonDict, uploaded_file
from bot.console.localslack.state import Request, SlackError, SlackState


def info(state: SlackState, request: Request) -> JsonDict:
    """files.info: a file registered (add_file, file_input) or uploaded."""
    file = state.files.get(str(request.args.get("file") or ""))
    if file is None:
        raise SlackError("file_not_found")
    return {"ok": True, "file": copy.deepcopy(file), "comments": [], "response_metadata": {}}


def get_upload_url(state: SlackState, request: Request) -> JsonDict:
    """files.getUploadURLExternal: a new file and the URL its bytes are posted to."""
    name = str(request.args.get("filename") or "file")
    workspace = request.workspace
    file = uploaded_file(
        name,
        user_id=workspace.bot_user_id,
        team_id=workspace.team_id,
        size=int(request.args.get("length") or 0),
        domain=workspace.team_domain,
    )
    state.files[file["id"]] = file
    return {
        "ok": True,
        "upload_url": f"{request.root_url}upload/{file['id']}",
        "file_id": file["id"],
    }


def complete_upload(state: SlackState, request: Request) -> JsonDict:
    """files.completeUploadExternal: title the uploaded files, and share them in a channel."""
    entries = request.args.get("files") or []
    completed = []
    for entry in entries:
        file = state.files.get(str(entry.get("id")))
        if file is None:
            raise SlackError("file_not_found")
        if entry.get("title"):
            file["title"] = entry["title"]
        completed.append(file)
    channel = request.args.get("channel_id") or request.args.get("channel")
    if channel:
        args = {
            "text": request.args.get("initial_comment") or "",
            "thread_ts": request.args.get("thread_ts"),
            "files": completed,
        }
        message = state.bot_message(request.workspace, args)
        state.history.setdefault(state.resolve_channel(str(channel)), []).append(message)
    return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in completed]}


METHODS = {
    "files.info": info,
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
