"""The command table both chat platforms read: Slack's ``GRAPHGATE_SLACK_COMMANDS`` and Telegram's
``GRAPHGATE_TELEGRAM_COMMANDS``, each in its own spelling, through the one parser."""

from __future__ import annotations

import json

import pytest

from graphgate.connectors.commands import CommandTarget, command_table
from graphgate.connectors.slack.starting import command_targets as slack_commands
from graphgate.connectors.telegram.bot import TelegramNotConfigured
from graphgate.connectors.telegram.router import command_targets as telegram_commands
from graphgate.core.settings import Settings

TABLE = {
    "ask": "writer",
    "/brief": {"graph": "writer", "mode": "auto", "config": {"target_length": 300}, "description": "a short brief"},
    "Echo": "",
    "plain": {},
}


def test_an_empty_table_is_one_ask_command_running_the_default_graph() -> None:
    settings = Settings(slack_task_mode="auto", telegram_task_mode="interactive")
    assert slack_commands(settings) == {"/ask": CommandTarget(graph=None, mode="auto")}
    assert telegram_commands(settings) == {"ask": CommandTarget(graph=None, mode="interactive")}


def test_slack_commands_keep_their_slash_and_case() -> None:
    table = slack_commands(Settings(slack_commands=TABLE, slack_task_mode="interactive"))
    assert list(table) == ["/ask", "/brief", "/Echo", "/plain"]  # the table's order
    assert table["/ask"] == CommandTarget(graph="writer", mode="interactive")
    assert table["/brief"] == CommandTarget(
        graph="writer", mode="auto", config={"target_length": 300}, description="a short brief"
    )
    assert table["/Echo"] == CommandTarget(graph=None, mode="interactive")  # "": the default graph
    assert table["/plain"] == CommandTarget(graph=None, mode="interactive")


def test_telegram_commands_lose_their_slash_and_are_lower_case() -> None:
    table = telegram_commands(Settings(telegram_commands=TABLE, telegram_task_mode="auto"))
    assert list(table) == ["ask", "brief", "echo", "plain"]
    assert table["ask"] == CommandTarget(graph="writer", mode="auto")
    assert table["brief"].description == "a short brief" and table["brief"].config == {"target_length": 300}
    assert table["echo"] == CommandTarget(graph=None, mode="auto")


@pytest.mark.parametrize("name", ["help", "/start", "New", "cancel", "/"])
def test_telegram_refuses_the_commands_it_keeps_for_itself(name: str) -> None:
    with pytest.raises(TelegramNotConfigured, match="may not define /"):
        telegram_commands(Settings(telegram_commands={name: "writer"}))


def test_slack_may_name_any_command() -> None:
    assert list(slack_commands(Settings(slack_commands={"help": "writer", "/new": "echo"}))) == ["/help", "/new"]


def test_the_tables_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHGATE_SLACK_COMMANDS", json.dumps({"/ask": "writer", "/brief": {"graph": "writer"}}))
    monkeypatch.setenv("GRAPHGATE_TELEGRAM_COMMANDS", json.dumps({"ask": {"graph": "agent", "description": "agent"}}))
    settings = Settings()
    assert [t.graph for t in slack_commands(settings).values()] == ["writer", "writer"]
    assert telegram_commands(settings) == {"ask": CommandTarget(graph="agent", mode="interactive", description="agent")}


def test_config_is_copied_and_a_refused_name_stops_the_table() -> None:
    config = {"target_length": 300}
    table = command_table({"a": {"config": config}}, default="x", mode="auto", spell=str.upper)
    assert table == {"A": CommandTarget(graph=None, mode="auto", config={"target_length": 300})}
    assert table["A"].config is not config

    def refuse(name: str) -> str:
        raise ValueError(name)

    with pytest.raises(ValueError, match="x"):
        command_table({}, default="x", mode="auto", spell=refuse)
