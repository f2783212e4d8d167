"""Slack end to end, through real processes: uvicorn API (with /slack/events), Celery worker, dispatcher
processes, Redis, and a fake Slack Web API on loopback that records every call and enforces Slack's limits.

Requests to the gateway are signed with the signing secret and shaped like Slack's own.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from graphgate.connectors.slack import mrkdwn
from graphgate.core.keys import DELIVERY_GROUP, delivery_shard
from graphgate.testing.client import terminal_of
from graphgate.testing.dispatcher import DISPATCHER_ENV, start_dispatcher
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import (
    SlackSender,
    accepted_posts,
    final_sections,
    new_channel,
    only_task,
    root_of,
    slack_api,
    slack_env,
    slot_message,
    status_says,
    summarize_calls,
    write_report,
)
from graphgate.testing.stack import Proc, Stack, running_stack, state_client
from graphgate.testing.waiting import wait_for

INTERVAL = 0.3  # GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL in these tests
SHARDS = int(DISPATCHER_ENV["GRAPHGATE_DELIVERY_SHARDS"])
DISPATCHER_METHODS = {"chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "slack" / "calls-interactive-writer.txt"


@pytest.fixture(scope="module")
def slack_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlack) -> Iterator[Stack]:
    env = slack_env(fake_slack, GRAPHGATE_OFFLINE_MODEL_DELAY="0.01")
    with running_stack(redis_url, tmp_path_factory.mktemp("slack"), env) as stack:
        yield stack


@pytest.fixture
def slack(slack_stack: Stack, fake_slack: FakeSlack) -> SlackSender:
    return SlackSender(slack_stack.url, fake_slack)


@pytest.fixture(scope="module")
def dispatchers(slack_stack: Stack) -> Iterator[list[Proc]]:
    """The module's dispatcher, when one runs: started by the first test that needs it and kept for the next
    (a start costs seconds), stopped for a test that must see no other (``no_dispatcher``)."""
    running: list[Proc] = []
    yield running
    for proc in running:
        slack_stack.stop_proc(proc)


@pytest.fixture
def dispatcher(slack_stack: Stack, dispatchers: list[Proc]) -> Proc:
    """A running dispatcher that owns every shard (each test's channels are its own)."""
    if dispatchers and dispatchers[0].popen.poll() is not None:
        dispatchers.clear()
    if not dispatchers:
        dispatchers.append(start_dispatcher(slack_stack))
    return dispatchers[0]


@pytest.fixture
def no_dispatcher(slack_stack: Stack, dispatchers: list[Proc]) -> None:
    """No dispatcher but the test's own."""
    while dispatchers:
        slack_stack.stop_proc(dispatchers.pop())


# --- the interactive writer run ----------------------------------------------------------------------------


def test_slash_command_runs_writer_with_progress_buttons_and_final_answer(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UALICE01"
    started = time.monotonic()
    resp = slack.slash("/brief", "tides and the moon", user=user, channel=channel)
    assert resp.status_code == 200 and time.monotonic() - started < 3
    assert "Starting *writer*" in resp.text  # the ephemeral ack

    root = root_of(fake, channel)
    assert root.text.startswith(f"<@{user}> asked")
    question = slot_message(fake, channel, "question:", lambda m: bool(m.actions()))
    assert question.thread_ts == root.ts
    assert [a["text"]["text"] for a in question.actions()] == ["Approve", "Revise"]
    assert "*Outline*" in question.section_text() and "1. " in question.section_text()
    status_says(fake, channel, "is waiting for an answer")
    assert [a["action_id"] for a in fake.by_slot(channel, "status")[0].actions()] == ["gg_cancel"]

    resp = slack.click(question, question.actions()[0], user=user)
    assert resp.status_code == 200
    status = status_says(fake, channel, "finished")
    assert status.actions() == []  # no Cancel button on a finished task

    # the question now says who answered what, and offers no buttons
    answered = fake.by_slot(channel, question.slot)[0]
    assert answered.actions() == []
    assert f"<@{user}> answered: *Approve*" in answered.contexts()

    # the final answer: the article, converted to mrkdwn, complete, within Slack's limits
    task = only_task(slack_stack, user)
    assert task["status"] == "completed" and task["session_id"] == f"slack:T0001:{channel}:{root.ts}"
    expected = mrkdwn.split(mrkdwn.to_mrkdwn(task["output"]["article"]))
    wait_for(lambda: final_sections(fake, channel, 2) == expected, 30, what="the final answer")

    # progress was shown by edits, the answer was streamed before it was final
    calls = fake.calls_of(channel=channel)
    assert all(c.ok for c in calls), [(c.method, c.response) for c in calls if not c.ok]
    assert len([c for c in calls if c.method == "chat.update" and c.slot == "status"]) >= 2
    assert any(c.method == "chat.appendStream" for c in calls), "the answer was not streamed"
    assert any(c.method == "chat.stopStream" for c in calls)
    # every message was created once
    posts = accepted_posts(fake, channel)
    assert set(posts.values()) == {1}, posts
    assert {"status", question.slot, "answer:1", "answer:2"} <= set(posts)
    # paced: about one call per INTERVAL into the channel
    paced = sorted(
        (c for c in calls if c.method in DISPATCHER_METHODS or (c.method == "chat.postMessage" and c.slot)),
        key=lambda c: c.at,
    )
    close = [
        f"{a.method}/{a.slot} -> {b.method}/{b.slot}: {b.at - a.at:.3f}s"
        for a, b in zip(paced, paced[1:])
        if b.at - a.at < INTERVAL * 0.9
    ]
    assert not close, "; ".join(close)

    REPORT.parent.mkdir(parents=True, exist_ok=True)
    write_report(REPORT, summarize_calls(fake, channel))


def test_streaming_unsupported_falls_back_to_chat_update(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UBOB0001"
    fake.streaming = False
    try:
        slack.slash("/brief", "volcanoes", user=user, channel=channel)
        question = slot_message(fake, channel, "question:", lambda m: bool(m.actions()))
        slack.click(question, question.actions()[0], user=user)
        status_says(fake, channel, "finished")
    finally:
        fake.streaming = True
    calls = fake.calls_of(channel=channel)
    assert not any(c.ok for c in calls if c.method.endswith("Stream"))
    assert all(c.ok for c in calls if not c.method.endswith("Stream"))
    task = only_task(slack_stack, user)
    expected = mrkdwn.split(mrkdwn.to_mrkdwn(task["output"]["article"]))
    wait_for(lambda: final_sections(fake, channel, 2) == expected, 30, what="the final answer")
    assert set(accepted_posts(fake, channel).values()) == {1}


# --- buttons: double clicks, strangers, cancel ---------------------------------------------------------------


def test_double_click_resumes_once_and_strangers_change_nothing(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, channel, owner, stranger = fake_slack, new_channel(), "UOWNER01", "USTRANGE"
    slack.slash("/brief", "coral reefs", user=owner, channel=channel)
    question = slot_message(fake, channel, "question:", lambda m: bool(m.actions()))
    approve = question.actions()[0]

    assert slack.click(question, approve, user=stranger).status_code == 200
    note = wait_for(lambda: [e for e in fake.ephemerals if e.get("channel") == channel and e["user"] == stranger])
    assert "Only the person who started this task" in note[0]["text"]
    api = slack_api(slack_stack, owner)
    task = only_task(slack_stack, owner)
    assert task["status"] == "waiting_input"

    barrier = threading.Barrier(2)
    codes: list[int] = []

    def click() -> None:
        barrier.wait()
        codes.append(slack.click(question, approve, user=owner).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200]
    events = api.events(task["session_id"], terminal_of(task["task_id"]))
    assert [e.type for e in events].count("task.resumed") == 1
    assert events[-1].type == "task.completed"
    refused = wait_for(lambda: [e for e in fake.ephemerals if e.get("channel") == channel and e["user"] == owner])
    assert len(refused) == 1 and "already answered" in refused[0]["text"]
    status_says(fake, channel, "finished")
    answered = fake.by_slot(channel, question.slot)[0]
    assert f"<@{owner}> answered: *Approve*" in answered.contexts()
    assert set(accepted_posts(fake, channel).values()) == {1}


def test_cancel_button(slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc) -> None:
    fake, channel, owner = fake_slack, new_channel(), "UCANCEL1"
    slack.slash("/brief", "glaciers", user=owner, channel=channel)
    slot_message(fake, channel, "question:", lambda m: bool(m.actions()))
    status = status_says(fake, channel, "waiting")
    cancel = status.actions()[0]
    assert slack.click(status, cancel, user="USTRANGE").status_code == 200
    wait_for(lambda: [e for e in fake.ephemerals if e.get("channel") == channel and "cancel it" in e["text"]])
    assert only_task(slack_stack, owner)["status"] == "waiting_input"
    assert slack.click(status, cancel, user=owner).status_code == 200
    cancelled = status_says(fake, channel, "was cancelled")
    assert f"cancelled by <@{owner}>" in cancelled.section_text()
    question = slot_message(fake, channel, "question:", lambda m: "No longer waiting" in m.contexts())
    assert question.actions() == []
    assert only_task(slack_stack, owner)["status"] == "cancelled"


# --- mentions, free-text answers, follow-ups, retries -------------------------------------------------------


def test_mention_free_text_answer_and_follow_up_in_the_thread(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UCAROL01"
    resp = slack.slash("/hello", "hi there", user=user, channel=channel)
    assert resp.status_code == 200
    root = root_of(fake, channel)
    question = slot_message(fake, channel, "question:", lambda m: "Reply in this thread" in m.contexts())
    assert question.actions() == [] and "What should I call you?" in question.section_text()

    assert slack.reply(channel, user, "Ada", root.ts).status_code == 200  # the free-text answer
    done = slot_message(fake, channel, "answer:", lambda m: "Nice to meet you, Ada!" in m.section_text())
    assert done.thread_ts == root.ts
    answered = fake.by_slot(channel, question.slot)[0]
    assert f"<@{user}> answered: *Ada*" in answered.contexts()

    # a follow-up mention in the same thread continues the same session (same graph, same LangGraph thread)
    slack.mention(channel, user, "once more", thread_ts=root.ts)
    wait_for(lambda: len(fake.by_slot(channel, "status")) == 2, 30, what="a second status message")
    tasks = slack_api(slack_stack, user).http.get("/api/v1/tasks").json()["tasks"]
    assert len(tasks) == 2 and tasks[0]["session_id"] == tasks[1]["session_id"] == f"slack:T0001:{channel}:{root.ts}"
    assert all(m.thread_ts == root.ts for m in fake.bot_messages(channel) if m.slot)

    # someone else's reply in the thread is ignored; their mention gets a note and starts nothing
    slack.reply(channel, "USTRANGE", "Bob", root.ts)
    slack.mention(channel, "USTRANGE", "hello?", thread_ts=root.ts)
    wait_for(lambda: [e for e in fake.ephemerals if e.get("channel") == channel and e["user"] == "USTRANGE"])
    assert len(slack_api(slack_stack, user).http.get("/api/v1/tasks").json()["tasks"]) == 2


def test_direct_message_starts_a_task_and_a_typed_reply_answers_buttons(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, user = fake_slack, "UDMUSER1"
    channel = "D" + new_channel()[1:]
    msg = fake.user_message(channel, user, "write about owls")
    resp = slack.event(
        {
            "type": "message",
            "user": user,
            "text": msg.text,
            "ts": msg.ts,
            "channel": channel,
            "event_ts": msg.ts,
            "channel_type": "im",
            "team": "T0001",
        }
    )
    assert resp.status_code == 200
    question = slot_message(fake, channel, "question:", lambda m: bool(m.actions()))
    assert question.thread_ts == msg.ts  # the conversation hangs under the DM that started it
    slack.reply(channel, user, "approve", msg.ts, channel_type="im")  # typing works as well as clicking
    slot_message(fake, channel, "question:", lambda m: f"<@{user}> answered: *Approve*" in m.contexts())
    status_says(fake, channel, "finished")
    task = only_task(slack_stack, user)
    assert task["session_id"] == f"slack:T0001:{channel}:{msg.ts}" and task["input"] == {"topic": "write about owls"}
    wait_for(lambda: final_sections(fake, channel, 2) == mrkdwn.split(mrkdwn.to_mrkdwn(task["output"]["article"])), 30)


def test_retried_event_creates_no_second_task(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, channel, user, event_id = fake_slack, new_channel(), "UDAVE001", "Ev0RETRY0001"
    msg = fake.user_message(channel, user, f"<@{fake.bot_user}> write about rivers")
    event = {
        "type": "app_mention",
        "user": user,
        "text": msg.text,
        "ts": msg.ts,
        "channel": channel,
        "event_ts": msg.ts,
        "team": "T0001",
    }
    body = slack.event_body(event, event_id=event_id)
    assert slack.post(body, "application/json").status_code == 200
    for attempt in (1, 2):  # Slack's retries: same body, X-Slack-Retry-Num
        resp = slack.post(
            body,
            "application/json",
            headers={"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert resp.status_code == 200
    slot_message(fake, channel, "question:")
    # the sentinel: the API has decided on both retries (each is logged as ignored when it is handled)
    ignored = f"slack event {event_id} delivered again; ignored"
    wait_for(lambda: slack_stack.apis[0][0].text().count(ignored) == 2, 30, what="both retries to be ignored")
    tasks = slack_api(slack_stack, user).http.get("/api/v1/tasks").json()["tasks"]
    assert len(tasks) == 1 and tasks[0]["session_id"] == f"slack:T0001:{channel}:{msg.ts}"
    assert len(fake.by_slot(channel, "status")) == 1


def test_forged_or_stale_requests_are_refused(slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack) -> None:
    channel, user = new_channel(), "UEVE0001"
    body = slack.slash_body("/echo", "let me in", user=user, channel=channel)
    form = "application/x-www-form-urlencoded"
    assert slack.post(body, form, secret="not-the-signing-secret").status_code == 401
    assert slack.post(body, form, timestamp=int(time.time()) - 6 * 60).status_code == 401
    unsigned = slack.http.post(slack.url, content=body, headers={"Content-Type": form})
    assert unsigned.status_code == 401
    event = slack.event_body(
        {
            "type": "app_mention",
            "user": user,
            "text": "<@UBOTGG> hi",
            "ts": "1.000001",
            "channel": channel,
            "event_ts": "1.000001",
        }
    )
    assert slack.post(event, "application/json", secret="wrong").status_code == 401
    # the sentinel: a genuine mention with no request, sent after the refused ones, is handled all the way
    # (its note is posted from the same background path a refused request would have taken, and starts no task)
    assert slack.mention(channel, user, "")[1].status_code == 200
    wait_for(lambda: fake_slack.calls_of(channel=channel), 30, what="the note for the genuine mention")
    calls = fake_slack.calls_of(channel=channel)
    assert [(c.method, c.args["user"]) for c in calls] == [("chat.postEphemeral", user)]
    assert calls[0].args["text"].startswith("Tell me what to do")
    assert slack_api(slack_stack, user).http.get("/api/v1/tasks").json()["tasks"] == []


# --- delivery faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "crash_after"), [("/echo", "task.completed"), ("/brief", "interrupt")])
def test_dispatcher_killed_between_post_and_ack_posts_once(
    slack: SlackSender,
    fake_slack: FakeSlack,
    slack_stack: Stack,
    redis_url: str,
    command: str,
    crash_after: str,
    no_dispatcher: None,
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UFRANK0" + str(len(crash_after))
    doomed = start_dispatcher(slack_stack, "doomed", GRAPHGATE_DISPATCHER_CRASH_AFTER_POST=crash_after)
    try:
        slack.slash(command, "the answer survives", user=user, channel=channel)
        assert doomed.popen.wait(60) == -signal.SIGKILL
        assert "FAULT INJECTION: SIGKILL after posting" in doomed.text()
    finally:
        slack_stack.stop_proc(doomed)
    slot = "answer:1" if crash_after == "task.completed" else "question:"
    assert len(slot_message(fake, channel, slot, timeout=5).ts) > 0  # it was posted before the kill
    task = only_task(slack_stack, user)
    shard_pending = pending_entries(redis_url, slack_stack)
    assert shard_pending > 0  # the entry was never acked

    survivor = start_dispatcher(slack_stack, "survivor")
    try:
        wait_for(lambda: pending_entries(redis_url, slack_stack) == 0, 60, what="the pending entries to be acked")
        if crash_after == "interrupt":
            question = slot_message(fake, channel, "question:", lambda m: bool(m.actions()))
            slack.click(question, question.actions()[0], user=user)
        status_says(fake, channel, "finished")
        wait_for(lambda: pending_entries(redis_url, slack_stack) == 0, 30, what="everything acked")
        wait_for(lambda: final_sections(fake, channel, 1 if crash_after == "task.completed" else 2), 30)
    finally:
        slack_stack.stop_proc(survivor)
    assert "found" in survivor.text() and "posted before a restart" in survivor.text()
    assert any(c.method == "conversations.replies" for c in fake.calls_of(channel=channel))
    posts = accepted_posts(fake, channel)
    assert set(posts.values()) == {1}, posts
    task = only_task(slack_stack, user)
    if crash_after == "task.completed":
        assert final_sections(fake, channel, 1) == mrkdwn.split(mrkdwn.to_mrkdwn(task["output"]["answer"]))
    else:
        assert len([m for m in fake.bot_messages(channel) if (m.slot or "").startswith("question:")]) == 1
        assert final_sections(fake, channel, 2) == mrkdwn.split(mrkdwn.to_mrkdwn(task["output"]["article"]))


def pending_entries(redis_url: str, stack: Stack) -> int:
    client = state_client(redis_url)
    total = 0
    for shard in range(SHARDS):
        key = stack.keys.delivery(shard)
        try:
            total += int(client.xpending(key, "dispatchers")["pending"])
        except redis.ResponseError:
            pass
    return total


def shard_drained(redis_url: str, stack: Stack, session_id: str) -> bool:
    """True once the dispatchers have read every entry of the session's delivery shard and acked them all."""
    client = state_client(redis_url)
    key = stack.keys.delivery(delivery_shard(session_id, SHARDS))
    try:
        last = client.xinfo_stream(key)["last-generated-id"]
        group = next((g for g in client.xinfo_groups(key) if g["name"] == DELIVERY_GROUP), None)
    finally:
        client.close()
    return group is not None and group["last-delivered-id"] == last and group["pending"] == 0


def test_rate_limit_in_the_middle_of_the_final_answer(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UGRACE01"
    paragraph = "The tide comes in **twice** a day & goes out twice; <everyone> knows it. " * 12
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(60))  # ~55,000 characters: two messages
    assert len(text) > mrkdwn.MESSAGE_TEXT_LIMIT

    def second_part(args: dict) -> bool:  # type: ignore[type-arg]
        meta = args.get("metadata") or {}
        return args.get("channel") == channel and (meta.get("event_payload") or {}).get("slot") == "answer:1:1"

    fake.fail("chat.postMessage", second_part, status=429, error="ratelimited", retry_after=2, times=1)
    slack.slash("/echo", text, user=user, channel=channel)
    wait_for(lambda: fake.by_slot(channel, "answer:1:1"), 60, what="the second part")

    calls = [c for c in fake.calls_of("chat.postMessage", channel) if c.slot == "answer:1:1"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 2.0  # Retry-After was waited out
    task = only_task(slack_stack, user)
    assert final_sections(fake, channel, 1) == mrkdwn.split(mrkdwn.to_mrkdwn(task["output"]["answer"]))
    posts = accepted_posts(fake, channel)
    assert posts.get("answer:1") == 1 and posts.get("answer:1:1") == 1 and set(posts.values()) == {1}
    assert "part 2 of 2" in fake.by_slot(channel, "answer:1:1")[0].contexts()


def test_permanent_error_becomes_delivery_failed(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, redis_url: str, dispatcher: Proc
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UHEIDI01"
    # the bot is removed from the channel right after the root message: every later post is refused
    fake.fail(
        "chat.postMessage",
        lambda a: a.get("channel") == channel and bool(a.get("metadata")),
        status=200,
        error="not_in_channel",
        retry_after=None,
        times=1000,
    )
    slack.slash("/echo", "nobody will see this", user=user, channel=channel)
    root_of(fake, channel)
    api = slack_api(slack_stack, user)
    task = wait_for(lambda: api.http.get("/api/v1/tasks").json()["tasks"])[0]
    events = api.events(task["session_id"], lambda e: e.type == "delivery.failed")
    failed = events[-1]
    assert failed.data == {"platform": "slack", "error": "not_in_channel", "detail": "not_in_channel"}
    assert failed.task_id == task["task_id"]
    api.wait_status(task["task_id"], {"completed"})
    # the sentinel: the dispatcher has read and acked every entry of the session's shard, task.completed
    # included; each later event was a chance to try again
    wait_for(lambda: shard_drained(redis_url, slack_stack, task["session_id"]), 30, what="the shard to be drained")
    tried = [c for c in fake.calls_of(channel=channel) if c.slot]
    assert len(tried) == 1 and tried[0].response["error"] == "not_in_channel"  # no more attempts after that


def owned_shards(proc: Proc) -> set[int]:
    found = re.findall(r"owns shards \[([\d, ]*)\]", proc.text())
    return {int(x) for x in found[-1].split(",") if x.strip()} if found else set()


def test_dispatchers_share_the_shards_and_take_over_from_a_dead_one(
    slack: SlackSender, fake_slack: FakeSlack, slack_stack: Stack, dispatcher: Proc
) -> None:
    fake = fake_slack
    logged = len(dispatcher.text())  # the module's dispatcher may have served tests before this one
    second = start_dispatcher(slack_stack, "second")
    try:
        wait_for(
            lambda: (
                owned_shards(dispatcher) | owned_shards(second) == {0, 1, 2, 3}
                and not owned_shards(dispatcher) & owned_shards(second)
                and len(owned_shards(second)) == 2
            ),
            30,
            what="the shards to be shared",
        )

        def run(n: int) -> list[str]:
            channels = [new_channel() for _ in range(n)]
            for i, channel in enumerate(channels):
                slack.slash("/echo", f"answer number {i}", user=f"USHARE{i:02d}", channel=channel)
            return channels

        def delivered(channels: list[str]) -> None:
            for i, channel in enumerate(channels):
                slot_message(fake, channel, "answer:1", lambda m: f"answer number {i}" in m.section_text(), 60)
                status_says(fake, channel, "finished")
                assert set(accepted_posts(fake, channel).values()) == {1}

        first_round = run(8)
        delivered(first_round)
        assert "claimed" not in dispatcher.text()[logged:]
        second.popen.send_signal(signal.SIGKILL)
        second.popen.wait(10)
        second_round = run(8)  # half of these sessions sit on the dead dispatcher's shards
        wait_for(lambda: owned_shards(dispatcher) == {0, 1, 2, 3}, 30, what="the survivor to take every shard")
        delivered(second_round)
    finally:
        slack_stack.stop_proc(second)
