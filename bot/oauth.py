"""Distribution to many workspaces: OAuth installs, per-workspace tokens, and uninstalls.

Installations and OAuth state live in our database through slack_sdk's SQLAlchemy stores; their
tables are made by our migrations (migration 0005), never by `create_all`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.listener.builtins import TokenRevocationListeners
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, update

from bot.delivery.clients import make_client
from bot.delivery.outbox import Permanent
from bot.scopes import BOT_SCOPES
from bot.settings import Settings
from orders_core.db import Database
from orders_core.models import Workspace
from orders_core.onboarding import add_workspace

log = logging.getLogger(__name__)

STATE_EXPIRATION_SECONDS = 600


def slack_store_metadata() -> MetaData:
    """The tables slack_sdk's installation and state stores use (our migrations create them)."""
    metadata = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(
        metadata, SQLAlchemyInstallationStore.default_installations_table_name
    )
    SQLAlchemyInstallationStore.build_bots_table(
        metadata, SQLAlchemyInstallationStore.default_bots_table_name
    )
    SQLAlchemyOAuthStateStore.build_oauth_states_table(
        metadata, SQLAlchemyOAuthStateStore.default_table_name
    )
    return metadata


class InstallationClients:
    """Each workspace's own bot token, read from the installation store when it is needed.

    Read every time, not cached: after an uninstall no process may keep using the old token.
    """

    def __init__(
        self, base_url: str, store: SQLAlchemyInstallationStore, timeout: int = 10
    ) -> None:
        self.base_url = base_url
        self.store = store
        self.timeout = timeout

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        """The client of the workspace's installation; Permanent when the app is not installed."""
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise Permanent(f"the app is not installed in {team_id}")
        return make_client(self.base_url, bot.bot_token, timeout=self.timeout)


def installation_store(settings: Settings, db: Database) -> SQLAlchemyInstallationStore:
    """slack_sdk's installation store over our database."""
    assert settings.slack_client_id is not None
    return SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=db.engine)


def oauth_settings(
    settings: Settings, db: Database, store: SQLAlchemyInstallationStore
) -> OAuthSettings:
    """/slack/install and /slack/oauth_redirect, with our stores and callbacks."""
    assert settings.slack_client_id and settings.slack_client_secret

    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        with db.transaction() as s:
            workspace = add_workspace(
                s,
                str(installation.team_id),
                installation.team_name,
                enterprise_id=installation.enterprise_id,
            )
            workspace.reminders_paused_at = None  # installed (again): its reminders resume
        log.info("installed in %s", installation.team_id, extra={"team_id": installation.team_id})
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        log.warning("installation failed: %s", args.reason)
        return args.default.failure(args)

    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        installation_store=store,
        state_store=SQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_SECONDS, engine=db.engine
        ),
        callback_options=CallbackOptions(success=success, failure=failure),
        redirect_uri=settings.slack_redirect_uri,
    )


def pause_reminders(db: Database, team_id: str, now: datetime | None = None) -> None:
    """An uninstalled workspace's reminders wait (its orders stay, untouched)."""
    with db.transaction() as s:
        s.execute(
            update(Workspace)
            .where(Workspace.team_id == team_id)
            .values(reminders_paused_at=now or datetime.now(UTC))
        )


def register_uninstall(app: App, db: Database, store: SQLAlchemyInstallationStore | None) -> None:
    """tokens_revoked / app_uninstalled: forget the workspace's tokens, pause its reminders."""
    revocation = TokenRevocationListeners(store) if store is not None else None

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        if revocation is not None:
            revocation.handle_tokens_revoked_events(event, context)
        if (event.get("tokens") or {}).get("bot"):
            pause_reminders(db, str(context.team_id))
        log.info("tokens revoked in %s", context.team_id, extra={"team_id": context.team_id})

    @app.event("app_uninstalled")
    def app_uninstalled(context: BoltContext) -> None:
        if revocation is not None:
            revocation.handle_app_uninstalled_events(context)
        pause_reminders(db, str(context.team_id))
        log.info("uninstalled from %s", context.team_id, extra={"team_id": context.team_id})
