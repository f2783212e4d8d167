"""Interrupt shapes and answers: plain questions, and LangChain's human-in-the-loop requests in both modes."""

from __future__ import annotations

import pytest

from graphgate.core.errors import InvalidInput
from graphgate.core.interrupts import (
    answer_from_text,
    describe_answer,
    interrupt_data,
    resume_value,
)

# what HumanInTheLoopMiddleware (langchain 1.x, batched mode) passes to interrupt()
HITL = {
    "action_requests": [
        {
            "name": "send_email",
            "args": {"to": "ann@example.com", "subject": "Q3"},
            "description": "Tool execution requires approval\n\nTool: send_email",
        },
    ],
    "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]}],
}
TWO = {
    "action_requests": [
        {"name": "send_email", "args": {"to": "ann@example.com"}},
        {"name": "delete_file", "args": {"path": "/tmp/x"}},
    ],
    "review_configs": [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]},
        {"action_name": "delete_file", "allowed_decisions": ["approve", "reject"]},
    ],
}
PER_CALL = {
    "type": "tool_approval",
    "tool_call_id": "c1",
    "name": "send_email",
    "args": {"to": "ann"},
    "description": "Please review",
}


def test_plain_questions_and_options() -> None:
    assert interrupt_data("i", "Name?") == {
        "interrupt_id": "i",
        "kind": "question",
        "question": "Name?",
        "options": [],
        "value": "Name?",
    }
    data = interrupt_data("i", {"question": "Ok?", "options": ["yes", {"label": "No way", "value": "no"}]})
    assert data["options"] == [{"label": "yes", "value": "yes"}, {"label": "No way", "value": "no"}]
    assert interrupt_data("i", {"message": "Hm?"})["question"] == "Hm?"
    assert answer_from_text(data, " NO WAY ") == "no"
    assert answer_from_text(data, "maybe later") == "maybe later"
    assert resume_value(data, {"any": ["json"]}) == {"any": ["json"]}  # questions take any value


def test_a_response_schema_is_enforced() -> None:
    data = interrupt_data("i", "How many?", {"type": "integer", "minimum": 1})
    assert data["response_schema"] == {"type": "integer", "minimum": 1}
    assert resume_value(data, 3) == 3
    with pytest.raises(InvalidInput, match="response schema"):
        resume_value(data, "three")


def test_a_batched_hitl_request_is_a_tool_approval() -> None:
    data = interrupt_data("i", HITL)
    assert data["kind"] == "tool_approval" and data["mode"] == "batched"
    assert data["question"] == "Approve the tool call `send_email`?"
    assert data["actions"] == [
        {
            "name": "send_email",
            "args": {"to": "ann@example.com", "subject": "Q3"},
            "description": "Tool execution requires approval\n\nTool: send_email",
            "allowed_decisions": ["approve", "edit", "reject"],
        }
    ]
    assert data["options"] == [{"label": "Approve", "value": "approve"}, {"label": "Reject", "value": "reject"}]
    two = interrupt_data("j", TWO)
    assert two["question"] == "Approve 2 tool calls (`send_email`, `delete_file`)?"
    assert [a["allowed_decisions"] for a in two["actions"]] == [["approve", "edit", "reject"], ["approve", "reject"]]


def test_words_and_clicks_become_the_middlewares_decisions() -> None:
    data = interrupt_data("i", HITL)
    assert resume_value(data, "approve") == {"decisions": [{"type": "approve"}]}
    assert resume_value(data, "Yes!") == {"decisions": [{"type": "approve"}]}
    assert resume_value(data, "approve: looks good") == {"decisions": [{"type": "approve"}]}
    assert resume_value(data, "reject") == {"decisions": [{"type": "reject"}]}
    assert resume_value(data, "reject: wrong recipient") == {
        "decisions": [{"type": "reject", "message": "wrong recipient"}]
    }
    # any other text is a rejection with that text as the reason: the model reads it and can try again
    assert resume_value(data, "send it to bob instead") == {
        "decisions": [{"type": "reject", "message": "send it to bob instead"}]
    }
    edited = resume_value(data, 'edit {"to": "bob@example.com"}')
    assert edited == {
        "decisions": [
            {
                "type": "edit",
                "edited_action": {"name": "send_email", "args": {"to": "bob@example.com", "subject": "Q3"}},
            }
        ]
    }
    two = interrupt_data("j", TWO)
    assert resume_value(two, "approve") == {"decisions": [{"type": "approve"}, {"type": "approve"}]}
    assert resume_value(two, {"type": "reject"}) == {"decisions": [{"type": "reject"}, {"type": "reject"}]}


def test_the_middlewares_own_format_passes_unchanged() -> None:
    data = interrupt_data("i", TWO)
    answer = {
        "decisions": [
            {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "x"}}},
            {"type": "reject", "message": "keep it"},
        ]
    }
    assert resume_value(data, answer) is answer
    assert resume_value(data, answer["decisions"]) == answer


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"decisions": [{"type": "approve"}]}, "1 decision"),
        (
            [{"type": "approve"}, {"type": "edit", "edited_action": {"name": "delete_file", "args": {}}}],
            "'edit' is not allowed for 'delete_file'",
        ),
        ([{"type": "edit", "edited_action": {"name": "other", "args": {}}}, {"type": "approve"}], "not the tool"),
        ([{"type": "edit", "edited_action": {"name": "send_email"}}, {"type": "approve"}], "args object"),
        ([{"type": "maybe"}, {"type": "approve"}], "type is one of"),
        ([{"type": "reject", "message": 5}, {"type": "approve"}], "must be text"),
        ({"type": "edit"}, "one decision per call"),
        (7, "a tool approval takes"),
        ('edit {"to": "bob"}', "edit them one by one"),
    ],
)
def test_answers_the_graph_would_refuse_are_refused(answer: object, error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        resume_value(interrupt_data("j", TWO), answer)


def test_text_that_cannot_be_an_answer_says_how_to_answer() -> None:
    approve_only = {
        "action_requests": [{"name": "pay", "args": {}}],
        "review_configs": [{"action_name": "pay", "allowed_decisions": ["approve"]}],
    }
    with pytest.raises(InvalidInput, match="answer with one of: approve"):
        resume_value(interrupt_data("i", approve_only), "hmm, not sure")
    with pytest.raises(InvalidInput, match="JSON object"):
        resume_value(interrupt_data("i", HITL), "edit to bob")


def test_per_call_requests_take_one_decision() -> None:
    data = interrupt_data("i", PER_CALL)
    assert data["kind"] == "tool_approval" and data["mode"] == "per_call"
    assert data["actions"][0]["name"] == "send_email" and data["actions"][0]["description"] == "Please review"
    assert resume_value(data, "approve") == {"type": "approve"}
    decision = {"type": "reject", "message": "no"}
    assert resume_value(data, decision) is decision


def test_describe_answer() -> None:
    data = interrupt_data("i", HITL)
    assert describe_answer(data, {"decisions": [{"type": "approve"}]}) == "Approved"
    assert describe_answer(data, {"decisions": [{"type": "reject", "message": "why"}]}) == "Rejected: why"
    edit = resume_value(data, 'edit {"to": "bob@example.com"}')
    assert describe_answer(data, edit) == 'Edited and approved: send_email("to": "bob@example.com", "subject": "Q3")'
    question = interrupt_data("q", {"question": "Ok?", "options": [{"label": "Sure", "value": "yes"}]})
    assert describe_answer(question, "yes") == "Sure"
    assert describe_answer(question, {"x": 1}) == '{"x": 1}'


def test_per_call_approvals_of_a_real_agent_resume_it() -> None:
    """HumanInTheLoopMiddleware in per_call mode: two gated calls pause the agent on two interrupts at once,
    each with a response schema; answers built here resume it the way the worker does."""
    from langchain.agents import create_agent
    from langchain.agents.middleware import HumanInTheLoopMiddleware
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from examples.agent import TOOLS
    from examples.agent_model import OfflineAgentModel

    middleware = HumanInTheLoopMiddleware(
        interrupt_on={"send_email": {"allowed_decisions": ["approve", "reject"]}}, interrupt_mode="per_call"
    )
    agent = create_agent(OfflineAgentModel(), list(TOOLS), middleware=[middleware], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "per-call"}}
    agent.invoke(
        {"messages": [{"role": "user", "content": "email ann@example.com and bob@example.com the Q3 report"}]}, config
    )
    pending = [interrupt_data(i.id, i.value, i.response_schema) for i in agent.get_state(config).interrupts]
    assert [(d["kind"], d["mode"], d["actions"][0]["args"]["to"]) for d in pending] == [
        ("tool_approval", "per_call", "ann@example.com"),
        ("tool_approval", "per_call", "bob@example.com"),
    ]
    assert all(d["actions"][0]["allowed_decisions"] == ["approve", "reject"] for d in pending)
    assert [o["value"] for o in pending[0]["options"]] == ["approve", "reject"]
    with pytest.raises(InvalidInput, match="'edit' is not allowed"):
        resume_value(pending[0], 'edit {"to": "x@example.com"}')
    answers = {
        pending[0]["interrupt_id"]: resume_value(pending[0], "approve"),
        pending[1]["interrupt_id"]: resume_value(pending[1], "reject: not bob"),
    }
    assert answers[pending[1]["interrupt_id"]] == {"type": "reject", "message": "not bob"}
    result = agent.invoke(Command(resume=answers), config)
    tools = [m for m in result["messages"] if m.type == "tool"]
    assert sorted(t.content.split(":")[0] for t in tools) == [
        "Email to ann@example.com queued",
        "User rejected the tool call for `send_email` with reason",
    ]
