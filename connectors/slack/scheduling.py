"""``/schedule`` in Slack: scheduled runs that post into the channel the command was typed in, owned by
the person who typed it (connectors/schedulecmd.py has the words). The reply is ephemeral."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphgate.connectors import schedulecmd
from graphgate.connectors.commands import CommandTarget
from graphgate.connectors.inputs import text_input
from graphgate.connectors.slack import mrkdwn
from graphgate.connectors.slack.starting import from_slack_text
from graphgate.connectors.slack.threads import principal
from graphgate.core.services import Services

COMMAND = "/schedule"


class Scheduling:
    def __init__(self, services: Callable[[], Services], commands: dict[str, CommandTarget]) -> None:
        self.services = services
        self.commands = commands  # the first command's graph is the default graph of a schedule

    async def on_schedule(self, ack: Any, body: dict[str, Any]) -> None:
        svc = self.services()
        graphs = svc.tasks.graphs
        team, channel, user = str(body.get("team_id")), str(body.get("channel_id")), str(body.get("user_id"))
        first = next(iter(self.commands.values()), None)
        reply = await schedulecmd.run(
            svc.schedules,
            owner=principal(team, user).id,
            target={"slack": {"team": team, "channel": channel}},
            text=from_slack_text(str(body.get("text") or "")),
            default_graph=(first.graph if first else None) or graphs.default,
            input_of=lambda graph, words: text_input(graphs, graph, words),
        )
        await ack(mrkdwn.escape(reply))
