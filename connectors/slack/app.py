"""Slack ingress: the Bolt app, with every handler registered, for HTTP (connectors/slack/http.py) and
Socket Mode (connectors/slack/socket.py) alike.

Slash commands, mentions, DMs and thread replies start tasks (connectors/slack/starting.py); buttons, the
modals they open and typed answers answer them (connectors/slack/answers.py). Rendering what the task does
is the dispatcher's job (connectors/slack/delivery.py). Bolt verifies every request's signature and its
5-minute timestamp window before any handler runs, and each handler acks before it works
(``process_before_response`` off: Slack gets its answer within 3 s).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from graphgate.connectors.slack import modals
from graphgate.connectors.slack.answers import Answers
from graphgate.connectors.slack.installs import (
    SlackNotConfigured,
    api_url,
    oauth_enabled,
    stores,
)
from graphgate.connectors.slack.render import (
    ANSWER_ACTION,
    CANCEL_ACTION,
    EDIT_ACTION,
    FEEDBACK_ACTION,
    REJECT_ACTION,
)
from graphgate.connectors.slack.scheduling import COMMAND as SCHEDULE_COMMAND
from graphgate.connectors.slack.scheduling import Scheduling
from graphgate.connectors.slack.starting import Starts
from graphgate.core.services import Services
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.slack")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"


class SlackConnector:
    """Builds the Bolt app; its handlers use the ``services`` of the running process."""

    def __init__(self, settings: Settings, services: Callable[[], Services]) -> None:
        self.settings = settings
        self.services = services
        self.answers = Answers(services)
        self.starts = Starts(settings, services, self.answers)
        self.scheduling = Scheduling(services, self.starts.commands)

    def build(self) -> AsyncApp:
        """A Bolt app with every handler registered (signature verification on, ack before work)."""
        app = AsyncApp(
            signing_secret=self.settings.slack_signing_secret,
            client=self._client(),
            oauth_flow=self._oauth_flow(),
            process_before_response=False,  # ack within 3 s, then do the work
            request_verification_enabled=True,
        )
        for command in self.starts.commands:
            app.command(command)(self.starts.on_command)
        if SCHEDULE_COMMAND not in self.starts.commands:  # a graph command of that name wins
            app.command(SCHEDULE_COMMAND)(self.scheduling.on_schedule)
        app.event("app_mention")(self.starts.on_mention)
        app.event("message")(self.starts.on_message)
        app.action(re.compile(rf"^{ANSWER_ACTION}(:\d+)?$"))(self.answers.on_answer)
        app.action(EDIT_ACTION)(self.answers.on_edit)
        app.action(REJECT_ACTION)(self.answers.on_reject)
        app.action(CANCEL_ACTION)(self.answers.on_cancel)
        app.action(re.compile(rf"^{FEEDBACK_ACTION}:(1|-1)$"))(self.answers.on_feedback)
        app.view(modals.FEEDBACK_CALLBACK)(self.answers.on_feedback_submitted)
        app.view(modals.EDIT_CALLBACK)(self.answers.on_edit_submitted)
        app.view(modals.REJECT_CALLBACK)(self.answers.on_reject_submitted)

        @app.error
        async def on_error(error: Exception, body: dict[str, Any]) -> None:
            log.error("slack handler failed: %s", error, exc_info=error)

        return app

    def _client(self) -> AsyncWebClient:
        """The Web API client: with the bot token of a single-workspace app, else per installation."""
        settings = self.settings
        if settings.slack_bot_token:
            return AsyncWebClient(token=settings.slack_bot_token, base_url=api_url(settings))
        if oauth_enabled(settings):
            return AsyncWebClient(base_url=api_url(settings))
        raise SlackNotConfigured("set GRAPHGATE_SLACK_BOT_TOKEN, or GRAPHGATE_SLACK_CLIENT_ID and _CLIENT_SECRET")

    def _oauth_flow(self) -> AsyncOAuthFlow | None:
        """Multi-workspace installs (``/slack/install``), when there is no bot token and OAuth is set up."""
        settings = self.settings
        if settings.slack_bot_token or not oauth_enabled(settings):
            return None
        st = stores(settings)
        redirect = f"{settings.public_url.rstrip('/')}{REDIRECT_PATH}" if settings.public_url else None
        return AsyncOAuthFlow(
            client=AsyncWebClient(base_url=api_url(settings)),
            settings=AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=settings.slack_scopes,
                installation_store=st.installations,
                state_store=st.states,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                redirect_uri=redirect,
            ),
        )
