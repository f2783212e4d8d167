"""Files sent with a message reach the graph, end to end through real processes (the API with the Telegram
webhook and Slack events mounted, a Celery worker, a dispatcher, Redis) and the fake Telegram and Slack
servers: a photo and a PDF from each channel, and from the API, arrive on the user's message as content blocks
whose signed URLs the graph itself fetches (``files/look.py`` answers with the bytes' sha256), while files over
the limits or of a type not accepted, and files for a graph that takes text only, are refused with a clear
message in the chat and nothing stored."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graphgate.testing.client import Api
from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.fake_s3 import FakeS3
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import SlackSender, new_channel, slack_api
from graphgate.testing.stack import Proc, Stack, running_stack
from graphgate.testing.telegram import Webhook
from graphgate.testing.waiting import wait_for
from tests.e2e.conftest import ATTACHMENT_LIMIT

CONFIG = Path(__file__).parent / "files" / "langgraph.json"
sys.path.insert(0, str(CONFIG.parent))
import draw  # noqa: E402  (the graph's own files, to compare with what arrives)

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG's magic, then 10 KiB
PDF = b"%PDF-1.7\n" + b"quarterly figures " * 300
LIMIT = ATTACHMENT_LIMIT


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.fixture(scope="module")
def telegram(chat_telegram: FakeBotApi) -> FakeBotApi:
    return chat_telegram


@pytest.fixture(scope="module")
def slack(chat_slack: FakeSlack) -> FakeSlack:
    return chat_slack


@pytest.fixture(scope="module")
def stack(chat_stack: Stack, chat_dispatcher: Proc) -> Stack:
    """The package's shared stack (tests/e2e/conftest.py): these graphs, LIMIT, a dispatcher, a public URL."""
    return chat_stack


def stored(stack: Stack) -> list[Path]:
    folder = stack.workdir / "attachments"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def bot_says(fake: FakeBotApi, chat: int, words: str, after: int = 0) -> str:
    return wait_for(
        lambda: next((m.text for m in fake.bot_messages(chat)[after:] if words in m.text), None),
        60,
        what=f"the bot to say {words!r}",
    )


def test_a_telegram_photo_and_pdf_reach_the_graph_as_content_blocks(stack: Stack, telegram: FakeBotApi) -> None:
    chat_id = 5101
    chat, user, hook = telegram.chat(chat_id), telegram.user(chat_id), Webhook(stack.url)
    downloads = len(telegram.downloads)  # the fake is the package's: count this test's own
    assert hook.send(telegram.media_update(chat, user, "what is in this photo?", photo=PHOTO)).status_code == 200
    seen = bot_says(telegram, chat_id, "image/jpeg")
    assert "text 'what is in this photo?'" in seen
    assert f"image image/jpeg photo.jpg {len(PHOTO)} bytes {digest(PHOTO)} by url" in seen  # the largest size
    assert len(telegram.downloads) > downloads  # fetched with the bot's token, through getFile
    assert not any(telegram.token in p.read_text(errors="ignore") for p in stack.workdir.glob("*.log"))

    update = telegram.media_update(chat, user, "/look", document=(PDF, "q3 figures.pdf", "application/pdf"))
    assert hook.send(update).status_code == 200
    seen = bot_says(telegram, chat_id, "application/pdf")
    assert f"file application/pdf q3 figures.pdf {len(PDF)} bytes {digest(PDF)} inline" in seen


def test_telegram_files_past_the_limits_or_for_a_text_graph_are_refused_in_the_chat(
    stack: Stack, telegram: FakeBotApi
) -> None:
    chat_id = 5102
    chat, user, hook = telegram.chat(chat_id), telegram.user(chat_id), Webhook(stack.url)
    before = len(stored(stack))
    cases = [
        (
            telegram.media_update(chat, user, "big", document=(b"x" * (LIMIT + 1), "big.pdf", "application/pdf")),
            "at most",
        ),
        (
            telegram.media_update(chat, user, "zip", document=(b"PK\x03\x04", "a.zip", "application/zip")),
            "not accepted",
        ),
        (telegram.media_update(chat, user, "/echo read this", photo=PHOTO), "takes text only"),
    ]
    for update, words in cases:
        shown = len(telegram.bot_messages(chat_id))
        assert hook.send(update).status_code == 200
        assert "I can't run that" in bot_says(telegram, chat_id, words, after=shown)
    # the first two were refused from Telegram's description, before any download; the third was stored, but
    # no task was made of it
    assert Api(stack.url, f"telegram:{chat_id}").http.get("/api/v1/tasks").json()["tasks"] == []
    assert len(stored(stack)) == before + 1


def test_a_file_uploaded_through_the_api_reaches_the_graph(stack: Stack) -> None:
    api = Api(stack.url, "uploader")
    resp = api.http.post(
        "/api/v1/files", params={"name": "chart.pdf"}, content=PDF, headers={"content-type": "application/pdf"}
    )
    assert resp.status_code == 201, resp.text
    file_id = resp.json()["file_id"]
    task = api.create(graph="look", input={"messages": [{"role": "user", "content": "summarize"}]}, files=[file_id])
    done = api.wait_status(task["task_id"], {"completed"}, timeout=60)
    answer = done["output"]["messages"][-1]["content"]
    assert f"file application/pdf chart.pdf {len(PDF)} bytes {digest(PDF)} inline" in answer
    too_big = api.http.post("/api/v1/files", content=b"x" * (LIMIT + 1), headers={"content-type": "application/pdf"})
    assert too_big.status_code == 413


def slack_answer(fake: FakeSlack, channel: str, words: str) -> str:
    """The text of the bot's message in ``channel`` (its threads included) that says ``words``."""

    def found() -> str | None:
        for m in fake.bot_messages(channel):
            shown = m.text + " " + m.section_text()
            if words in shown:
                return shown
        return None

    return wait_for(found, 60, what=f"slack to show {words!r}")


def test_a_slack_photo_and_pdf_reach_the_graph_as_content_blocks(stack: Stack, slack: FakeSlack) -> None:
    sender, channel = SlackSender(stack.url, slack), new_channel()
    photo = slack.add_file(PHOTO, "harbour.jpg", "image/jpeg")
    pdf = slack.add_file(PDF, "q3.pdf", "application/pdf")
    _, resp = sender.mention(channel, "UFILES01", "what do these show?", files=[photo, pdf])
    assert resp.status_code == 200
    shown = slack_answer(slack, channel, "application/pdf")
    assert f"image image/jpeg harbour.jpg {len(PHOTO)} bytes {digest(PHOTO)} by url" in shown
    assert f"file application/pdf q3.pdf {len(PDF)} bytes {digest(PDF)} inline" in shown
    assert {(file_id, authorized) for file_id, authorized in slack.downloads} >= {
        (photo["id"], True),
        (pdf["id"], True),
    }
    assert not any(slack.bot_token in p.read_text(errors="ignore") for p in stack.workdir.glob("*.log"))

    dm = "D" + channel[1:]
    assert sender.dm_files(dm, "UFILES01", "", [slack.add_file(PHOTO, "again.jpg", "image/jpeg")]).status_code == 200
    assert f"again.jpg {len(PHOTO)} bytes" in slack_answer(slack, dm, "again.jpg")


def test_a_slack_file_past_the_limits_is_refused_in_the_thread(stack: Stack, slack: FakeSlack) -> None:
    sender, channel, user = SlackSender(stack.url, slack), new_channel(), "UFILES02"
    before = len(stored(stack))
    big = slack.add_file(b"x" * (LIMIT + 1), "big.pdf", "application/pdf")
    sender.mention(channel, user, "read this", files=[big])
    assert "at most" in wait_for(lambda: _ephemeral(slack, channel, "big.pdf"), 60, what="the refusal")
    assert not any(file_id == big["id"] for file_id, _ in slack.downloads)  # refused from its description
    assert len(stored(stack)) == before
    assert slack_api(stack, user).http.get("/api/v1/tasks").json()["tasks"] == []


def _ephemeral(fake: FakeSlack, channel: str, words: str) -> str | None:
    return next((e["text"] for e in fake.ephemerals if e.get("channel") == channel and words in e["text"]), None)


# --- files out ----------------------------------------------------------------------------------------------

DRAWN = {"revenue.png": draw.PNG, "costs.png": draw.COSTS, "report.pdf": draw.PDF}


def test_files_a_graph_answers_with_reach_the_api_slack_and_telegram(
    stack: Stack, slack: FakeSlack, telegram: FakeBotApi
) -> None:
    api = Api(stack.url, "drawer")
    task = api.create(graph="draw", input={"messages": [{"role": "user", "content": "chart it"}]})
    api.wait_status(task["task_id"], {"completed"}, timeout=60)
    done = api.events(task["session_id"], lambda e: e.type == "task.completed")[-1].data
    assert done["text"] == "Here are the charts and the report."  # the files are not in the text
    assert [(f["name"], f["mime_type"], f["size"]) for f in done["files"]] == [
        (name, mime, len(data))
        for (name, data), mime in zip(DRAWN.items(), ["image/png", "image/png", "application/pdf"])
    ]
    for entry in done["files"]:
        fetched = httpx.get(entry["url"])  # signed: no token
        assert fetched.status_code == 200 and fetched.content == DRAWN[entry["name"]]

    # Slack: one files.uploadV2 into the task's thread, after the answer's text
    channel = new_channel()
    assert SlackSender(stack.url, slack).slash("/draw", "chart it", user="UDRAW001", channel=channel).status_code == 200
    shared = wait_for(lambda: [m for m in slack.bot_messages(channel) if m.files], 60, what="the uploaded files")
    [message] = shared
    assert message.thread_ts is not None and message.thread_ts != message.ts
    assert [f["name"] for f in message.files] == list(DRAWN)
    assert [slack.uploaded(f["id"]) for f in message.files] == list(DRAWN.values())
    answer = slack_answer(slack, channel, "Here are the charts")
    assert "[image]" not in answer

    # Telegram: the two images as one media group of photos, the PDF as a document
    chat_id = 5103
    chat, user, hook = telegram.chat(chat_id), telegram.user(chat_id), Webhook(stack.url)
    assert hook.send(telegram.message_update(chat, user, "/draw chart it")).status_code == 200
    sent = wait_for(
        lambda: (
            len([m for m in telegram.bot_messages(chat_id) if m.file]) == 3
            and [m.file for m in telegram.bot_messages(chat_id) if m.file]
        ),
        60,
        what="the files in the chat",
    )
    assert [(kind, name) for kind, name, _ in sent] == [
        ("photo", "revenue.png"),
        ("photo", "costs.png"),
        ("document", "report.pdf"),
    ]
    assert [data for _, _, data in sent] == list(DRAWN.values())
    accepted = [c.method for c in telegram.calls_of(chat=chat_id) if c.status == 200]
    assert [m for m in accepted if m in ("sendPhoto", "sendDocument", "sendMediaGroup")] == [
        "sendMediaGroup",
        "sendDocument",
    ]  # each once, however often flood control made the dispatcher wait


# --- files in an S3-compatible bucket -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[FakeS3]:
    fake = FakeS3().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def s3_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory, s3: FakeS3) -> Iterator[Stack]:
    env = {**s3.env, "GRAPHGATE_CONFIG": str(CONFIG)}
    with running_stack(redis_url, tmp_path_factory.mktemp("files-s3"), env, concurrency=1, public_url=True) as s:
        yield s


def test_files_kept_in_an_s3_bucket_go_both_ways(s3_stack: Stack, s3: FakeS3) -> None:
    api = Api(s3_stack.url, "bucketeer")
    sent = api.http.post(
        "/api/v1/files", params={"name": "in.pdf"}, content=PDF, headers={"content-type": "application/pdf"}
    )
    assert sent.status_code == 201, sent.text
    file_id = sent.json()["file_id"]
    assert s3.objects[("graphgate-files", f"graphgate/attachments/{file_id}")][0] == PDF
    task = api.create(graph="look", input={"messages": [{"role": "user", "content": "read"}]}, files=[file_id])
    done = api.wait_status(task["task_id"], {"completed"}, timeout=60)
    assert f"in.pdf {len(PDF)} bytes {digest(PDF)} inline" in done["output"]["messages"][-1]["content"]

    drawn = api.create(graph="draw", input={"messages": [{"role": "user", "content": "chart"}]})
    api.wait_status(drawn["task_id"], {"completed"}, timeout=60)
    files = api.events(drawn["session_id"], lambda e: e.type == "task.completed")[-1].data["files"]
    for entry in files:
        assert s3.objects[("graphgate-files", f"graphgate/attachments/{entry['file_id']}")][0] == DRAWN[entry["name"]]
        assert httpx.get(entry["url"]).content == DRAWN[entry["name"]]  # the API reads it from the bucket
    assert not (s3_stack.workdir / ".graphgate" / "attachments").exists() and not list(
        s3_stack.workdir.rglob("attachments")
    )
    assert all(c.status in (200, 404) for c in s3.calls)  # every request's signature held
