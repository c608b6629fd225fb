"""Installing into many workspaces (OAuth) against the local Slack: the install page, the
redirect, each workspace acting with its own token, and an uninstall."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build_runtime
from bot.clock import MovableClock
from bot.console.http import LocalServer
from bot.console.localslack import LocalSlack, SlackSender
from bot.settings import Settings
from bot.wsgi import OrdersApp
from orders_core.catalog import add_service
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus, Party, ServiceStatus
from orders_core.models import Workspace
from orders_core.onboarding import add_member, add_party, add_workspace
from orders_core.orders import OrderDraft, act, place_order, resolve_caller
from tests.support.slackbot import SIGNING_SECRET

TEAMS = {"T0ONE": "xoxb-one-token", "T0TWO": "xoxb-two-token"}


class Installed:
    """The app in OAuth mode, served over HTTP, with a local Slack."""

    def __init__(self, db: Database, slack: LocalSlack, server: LocalServer, runtime: Any) -> None:
        self.db, self.slack, self.server, self.runtime = db, slack, server, runtime
        self.sender = SlackSender(server.url, SIGNING_SECRET, local_slack=slack)

    def install(self, team: str) -> tuple[int, str]:
        """Open the install page, follow Add to Slack, come back through the redirect."""
        with urllib.request.urlopen(self.server.url + "/slack/install") as page:
            html = page.read().decode()
            # The state cookie is Secure (Slack apps live behind https); a browser would send it
            # back, cookiejar on plain http would not: carry it by hand.
            cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        state = re.search(r"state=([\w-]+)", html)
        assert state is not None and "client_id=111.222" in html, html
        self.slack.add_installation(
            f"code-{team}",
            team_id=team,
            team_name=f"Team {team}",
            bot_token=TEAMS[team],
            scope="chat:write,commands,files:read,im:write",
        )
        request = urllib.request.Request(
            f"{self.server.url}/slack/oauth_redirect?code=code-{team}&state={state.group(1)}",
            headers={"Cookie": cookie},
        )
        try:
            with urllib.request.urlopen(request) as done:
                return done.status, done.read().decode()
        except urllib.error.HTTPError as exc:
            body = exc.read().decode()
            exc.close()
            return exc.code, body


@pytest.fixture
def installed(db: Database) -> Iterator[Installed]:
    """The bot with SLACK_CLIENT_ID/SECRET set instead of a bot token."""
    with LocalSlack() as slack:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db.url,
            slack_client_id="111.222",
            slack_client_secret="shh-secret",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.base_url,
        )
        runtime = build_runtime(settings, clock=MovableClock(), db=db, migrate=False)
        server = LocalServer(OrdersApp(runtime)).start()
        runtime.start()
        try:
            yield Installed(db, slack, server, runtime)
        finally:
            server.close()
            runtime.worker.stop()


def onboard(db: Database, team: str) -> str:
    """A merchant (Ana-{team}) and a provider in `team`, and an order waiting on the merchant."""
    with db.transaction() as s:
        ws = add_workspace(s, team)
        merchant = add_party(s, ws, Party.MERCHANT, "Merchant", channel_id=f"C{team}M")
        provider = add_party(s, ws, Party.PROVIDER, "Provider", channel_id=f"C{team}P")
        add_member(s, merchant, f"U{team}M")
        add_member(s, provider, f"U{team}P")
        service = add_service(
            s, ws, provider_name="Provider", name="App", status=ServiceStatus.ONLINE
        )
        outcome = place_order(
            s,
            resolve_caller(s, team, f"U{team}M"),
            OrderDraft(service.id, "Mini", "Ana", "ana@x.test"),
        )
        act(s, resolve_caller(s, team, f"U{team}P"), outcome.order.number, Action.ACCEPT)
        return outcome.order.code


def test_the_install_flow_stores_the_installation(installed: Installed) -> None:
    """Add to Slack → oauth.v2.access → the installation is kept in our database; the workspace exists."""
    status, body = installed.install("T0ONE")
    assert status == 200, body
    assert [c.args.get("code") for c in installed.slack.calls("oauth.v2.access")] == ["code-T0ONE"]
    bot = installed.runtime.clients.store.find_bot(enterprise_id=None, team_id="T0ONE")
    assert bot is not None and bot.bot_token == TEAMS["T0ONE"]
    with installed.db.read() as s:
        assert s.scalar(select(Workspace.name).where(Workspace.team_id == "T0ONE")) == "Team T0ONE"


def test_a_forged_state_is_refused(installed: Installed) -> None:
    """The redirect with a state we did not issue installs nothing."""
    installed.slack.add_installation("code-x", team_id="T0ONE", bot_token=TEAMS["T0ONE"])
    try:
        urllib.request.urlopen(
            f"{installed.server.url}/slack/oauth_redirect?code=code-x&state=forged"
        ).close()
        status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    assert status == 400
    assert installed.runtime.clients.store.find_bot(enterprise_id=None, team_id="T0ONE") is None


def test_each_workspace_acts_with_its_own_token(installed: Installed) -> None:
    """Two installs: every Slack call about a workspace's order carries that workspace's token."""
    for team in TEAMS:
        assert installed.install(team)[0] == 200
    numbers = {team: onboard(installed.db, team) for team in TEAMS}
    for team in numbers:
        url = installed.slack.new_response_url(channel="C0X", user=f"U{team}M", team_id=team)
        installed.sender.slash_command(
            team_id=team, user_id=f"U{team}M", text="list", response_url=url
        )
        listing = installed.slack.wait_for(lambda url=url: installed.slack.response_messages(url))[
            -1
        ]
        clicked_url = installed.slack.new_response_url(
            channel="C0X", user=f"U{team}M", team_id=team, message_ts=listing["ts"], ephemeral=True
        )
        installed.sender.click(
            team_id=team,
            user_id=f"U{team}M",
            channel_id="C0X",
            message=listing,
            action_id="order:confirm",
            ephemeral=True,
            response_url=clicked_url,
        )
    installed.runtime.settle(fast_forward=installed.runtime.clock.advance)  # type: ignore[attr-defined]
    posts = [c for c in installed.slack.calls("chat.postMessage") if c.ok]
    by_channel = {c.args["channel"]: c.token for c in posts}
    assert by_channel == {"CT0ONEP": TEAMS["T0ONE"], "CT0TWOP": TEAMS["T0TWO"]}
    for team, number in numbers.items():
        with installed.db.read() as s:
            from orders_core.orders import get_order

            assert (
                get_order(s, resolve_caller(s, team, f"U{team}M").ref, number).status
                is OrderStatus.IN_DEVELOPMENT
            )


def test_an_uninstall_forgets_the_tokens_and_pauses_reminders_but_keeps_the_orders(
    installed: Installed,
) -> None:
    """app_uninstalled for one workspace: its token is gone, its reminders wait; the other is untouched."""
    for team in TEAMS:
        installed.install(team)
    numbers = {team: onboard(installed.db, team) for team in TEAMS}
    from orders_core.reminders import PolicySpec, save_policy

    with installed.db.transaction() as s:
        policies = {
            team: save_policy(
                s,
                resolve_caller(s, team, f"U{team}M"),
                PolicySpec(channel_id=f"C{team}M", min_age=timedelta(0), escalate_after=None),
                now=installed.runtime.clock.now(),
            ).id
            for team in TEAMS
        }
    response = installed.sender.event(team_id="T0ONE", event={"type": "app_uninstalled"})
    assert response.status == 200
    installed.runtime.settle()
    store = installed.runtime.clients.store
    assert store.find_bot(enterprise_id=None, team_id="T0ONE") is None
    assert store.find_bot(enterprise_id=None, team_id="T0TWO") is not None
    outcomes = {o.policy_id: o.result for o in installed.runtime.reminders.run_due()}
    assert outcomes[policies["T0ONE"]] == "paused" and outcomes[policies["T0TWO"]] == "queued"
    with installed.db.read() as s:
        from orders_core.orders import get_order

        assert (
            get_order(s, resolve_caller(s, "T0ONE", "UT0ONEM").ref, numbers["T0ONE"]).status
            is OrderStatus.PENDING_CONFIRMATION
        )
    assert installed.install("T0ONE")[0] == 200  # installing again resumes its reminders
    assert {
        o.policy_id: o.result
        for o in installed.runtime.reminders.run_due(policy_id=policies["T0ONE"])
    }[policies["T0ONE"]] == "queued"


def test_single_token_mode_still_works(db: Database) -> None:
    """Without SLACK_CLIENT_ID the bot uses its one token, and the install routes do not exist."""
    from tests.support.slackbot import running_bot

    with running_bot(db) as bot:
        try:
            urllib.request.urlopen(bot.server.url + "/slack/install").close()
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        assert status == 404
    assert json.dumps({"ok": True})
