"""The command table of a chat platform: which command runs which graph, in which mode, with which config.

Slack (``GRAPHGATE_SLACK_COMMANDS``) and Telegram (``GRAPHGATE_TELEGRAM_COMMANDS``) read the same table: a
JSON object whose keys are commands and whose values are either a graph name (empty: the registry's default
graph) or an object ``{"graph", "mode", "config", "description"}`` (every key optional). An empty table
means one command, ``/ask``, running the default graph. The platforms differ only in what ``command_table``
is given: how a command is spelled (Slack keys keep their slash, ``"/ask"``; Telegram's lose it and are
lower case, ``"ask"``, and refuse the commands the bot keeps for itself), and the mode a command runs in
when it names none (``GRAPHGATE_SLACK_TASK_MODE``, ``GRAPHGATE_TELEGRAM_TASK_MODE``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CommandTarget:
    """What a command runs."""

    graph: str | None  # None: the registry's default graph
    mode: str
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # what the command does, in words (Telegram's /help lists it)


def command_table(
    raw: Mapping[str, object], *, default: str, mode: str, spell: Callable[[str], str]
) -> dict[str, CommandTarget]:
    """The commands of ``raw`` (``{default: ""}`` when it is empty), in its order, each named by ``spell``
    (which may raise to refuse a name) and running in ``mode`` unless it names its own."""
    table: dict[str, CommandTarget] = {}
    for name, value in (dict(raw) or {default: ""}).items():
        table[spell(name)] = command_target(value, mode)
    return table


def command_target(value: object, mode: str) -> CommandTarget:
    """One entry of the table: a graph name, or an object with ``graph``, ``mode``, ``config``, ``description``."""
    if isinstance(value, dict):
        return CommandTarget(
            graph=str(value.get("graph") or "") or None,
            mode=str(value.get("mode") or mode),
            config=dict(value.get("config") or {}),
            description=str(value.get("description") or ""),
        )
    return CommandTarget(graph=str(value or "") or None, mode=mode)
