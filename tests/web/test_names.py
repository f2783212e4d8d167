"""The names the widget shares with the gateway, read from the widget's source (no browser, no processes).

Event types are spelled once, in web/stream.js, and task statuses once, in web/taskstatus.js; both are the
Python enums' members (``EventType`` in graphgate/core/events.py, ``TaskStatus`` in graphgate/core/store.py),
name for name and value for value, with the same terminal ones. Every other module of the widget uses those
constants, so no other module spells a name as a string.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from graphgate.core.events import TERMINAL_EVENTS, EventType
from graphgate.core.store import TERMINAL_STATUSES, TaskStatus
from graphgate.testing.stack import ROOT

WEB = ROOT / "web"
MEMBER = re.compile(r"(?P<name>[A-Z][A-Z0-9_]*): '(?P<value>[^'\\]*)',(\s*//.*)?")
# words a module uses for something else than a task: a tool call's line is 'running', then 'done' or 'failed';
# the catalog of the widget's words says "failed" or "running" in English
OTHER_MEANINGS = {"tools.js": {"running", "failed"}, "i18n.js": {"running", "failed", "cancelled"}}


def frozen_members(path: Path, const: str) -> dict[str, str]:
    """The members of ``export const <const> = Object.freeze({ NAME: 'value', ... });`` in ``path``."""
    source = path.read_text(encoding="utf-8")
    found = re.search(rf"^export const {const} = Object\.freeze\(\{{\n(.*?)^\}}\);$", source, re.M | re.S)
    assert found, f"{path.name} has no `export const {const} = Object.freeze({{...}});`"
    members: dict[str, str] = {}
    for line in found.group(1).splitlines():
        member = MEMBER.fullmatch(line.strip())
        assert member, f"{path.name}: {const} has a line that is not `NAME: 'value',`: {line!r}"
        assert member["name"] not in members, f"{path.name}: {const}.{member['name']} twice"
        members[member["name"]] = member["value"]
    return members


def set_members(path: Path, const: str, enum: str) -> set[str]:
    """The member names in ``export const <const> = new Set([<enum>.NAME, ...]);`` in ``path``."""
    source = path.read_text(encoding="utf-8")
    found = re.search(rf"^export const {const} = new Set\(\[([^\]]*)\]\);$", source, re.M)
    assert found, f"{path.name} has no `export const {const} = new Set([...]);`"
    names = [item.strip() for item in found.group(1).split(",") if item.strip()]
    assert all(name.startswith(f"{enum}.") for name in names), names
    return {name.removeprefix(f"{enum}.") for name in names}


def spelled_elsewhere(web: Path, owner: str, values: set[str]) -> dict[str, set[str]]:
    """The ``values`` that a module in ``web`` other than ``owner`` writes as a string literal, by module."""
    found: dict[str, set[str]] = {}
    for path in sorted(web.glob("*.js")):
        if path.name == owner:
            continue
        source = path.read_text(encoding="utf-8")
        literals = {v for v in values if f"'{v}'" in source or f'"{v}"' in source}
        literals -= OTHER_MEANINGS.get(path.name, set())
        if literals:
            found[path.name] = literals
    return found


def enum_members(enum: type[Enum]) -> dict[str, str]:
    return {member.name: member.value for member in enum}


@pytest.mark.parametrize(
    ("module", "const", "terminal_const", "enum", "terminal"),
    [
        ("stream.js", "EventType", "TERMINAL_EVENT_TYPES", EventType, TERMINAL_EVENTS),
        ("taskstatus.js", "TaskStatus", "TERMINAL_STATUSES", TaskStatus, TERMINAL_STATUSES),
    ],
)
def test_the_widget_names_what_the_gateway_names(
    module: str, const: str, terminal_const: str, enum: type[Enum], terminal: frozenset[Enum]
) -> None:
    path = WEB / module
    assert frozen_members(path, const) == enum_members(enum)
    assert set_members(path, terminal_const, const) == {member.name for member in terminal}
    assert spelled_elsewhere(WEB, module, set(enum_members(enum).values())) == {}


def test_the_stream_listens_to_every_event_type() -> None:
    source = (WEB / "stream.js").read_text(encoding="utf-8")
    assert "export const EVENT_TYPES = Object.freeze(Object.values(EventType));" in source
    assert "for (const type of EVENT_TYPES) source.addEventListener(type, this.handle);" in source


def test_a_stray_spelling_is_found(tmp_path: Path) -> None:
    """The checks above can fail: a member the enum lacks, a line that is no member, a name spelled elsewhere."""
    owner = tmp_path / "taskstatus.js"
    owner.write_text("export const TaskStatus = Object.freeze({\n  QUEUED: 'queued',\n  PAUSED: 'paused',\n});\n")
    assert frozen_members(owner, "TaskStatus") == {"QUEUED": "queued", "PAUSED": "paused"}
    owner.write_text("export const TaskStatus = Object.freeze({\n  QUEUED: queued,\n});\n")
    with pytest.raises(AssertionError, match="not `NAME: 'value',`"):
        frozen_members(owner, "TaskStatus")
    (tmp_path / "turn.js").write_text("if (status === 'waiting_input') ask();\n")
    (tmp_path / "tools.js").write_text("li.dataset.state = 'running';\n")
    assert spelled_elsewhere(tmp_path, "taskstatus.js", {"queued", "running", "waiting_input"}) == {
        "turn.js": {"waiting_input"}
    }
