"""The Edit and Reject modals of a tool approval: views Slack accepts, and submissions read back."""

from __future__ import annotations

import json

import pytest

from graphgate.connectors.slack import modals
from graphgate.core.errors import InvalidInput
from graphgate.testing.fake_slack import check_view

ORIGIN = modals.Origin("task-1", "int-1", "C1", "1.000001")
ACTION = {
    "name": "send_email",
    "args": {"to": "ann@example.com", "subject": "Q3"},
    "description": "Send an e-mail <now>",
    "allowed_decisions": ["approve", "edit", "reject"],
}


def submitted(view: dict, block: str, action: str, value: str | None) -> dict:  # type: ignore[type-arg]
    return {**view, "state": {"values": {block: {action: {"type": "plain_text_input", "value": value}}}}}


def test_the_edit_modal_holds_the_arguments_as_json_and_remembers_its_question() -> None:
    view = modals.edit_view(ORIGIN, ACTION)
    assert check_view(view) is None
    assert view["callback_id"] == "gg_edit"
    assert modals.Origin.of_view(view) == ORIGIN
    field = view["blocks"][1]
    assert field["block_id"] == modals.ARGS_BLOCK
    assert json.loads(field["element"]["initial_value"]) == ACTION["args"]
    assert "&lt;now&gt;" in view["blocks"][0]["text"]["text"]


def test_arguments_too_long_for_the_field_are_left_out_and_only_changes_are_typed() -> None:
    view = modals.edit_view(ORIGIN, {**ACTION, "args": {"body": "x" * 5000}})
    assert check_view(view) is None
    assert "initial_value" not in view["blocks"][1]["element"]
    assert "too long to show" in view["blocks"][1]["hint"]["text"]


def test_the_reject_modal_asks_for_an_optional_reason() -> None:
    view = modals.reject_view(ORIGIN, [ACTION, ACTION])
    assert check_view(view) is None
    assert view["blocks"][1]["optional"] is True
    assert "these 2 tool calls: `send_email`" in view["blocks"][0]["text"]["text"]
    assert (
        modals.submitted_reason(submitted(view, modals.REASON_BLOCK, modals.REASON_INPUT, "  wrong person "))
        == "wrong person"
    )
    assert modals.submitted_reason(submitted(view, modals.REASON_BLOCK, modals.REASON_INPUT, None)) == ""


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ('{"to": "bob@example.com"', "not valid JSON"),
        ('["bob@example.com"]', "must be a JSON object"),
        ("", "as a JSON object"),
    ],
)
def test_arguments_that_are_no_json_object_are_refused_with_a_clear_message(typed: str, says: str) -> None:
    view = submitted(modals.edit_view(ORIGIN, ACTION), modals.ARGS_BLOCK, modals.ARGS_INPUT, typed)
    with pytest.raises(InvalidInput, match=says):
        modals.submitted_args(view)


def test_typed_arguments_are_read_back() -> None:
    view = submitted(
        modals.edit_view(ORIGIN, ACTION), modals.ARGS_BLOCK, modals.ARGS_INPUT, '{"to": "bob@example.com"}'
    )
    assert modals.submitted_args(view) == {"to": "bob@example.com"}


def test_a_form_without_its_origin_is_refused_and_errors_fit_under_the_field() -> None:
    with pytest.raises(InvalidInput):
        modals.Origin.of_view({"private_metadata": "not json"})
    errors = modals.field_errors(modals.ARGS_BLOCK, "x" * 1000)
    assert list(errors) == [modals.ARGS_BLOCK] and len(errors[modals.ARGS_BLOCK]) == modals.ERROR_CHARS
