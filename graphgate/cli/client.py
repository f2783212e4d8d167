"""``graphgate run``: a terminal client that starts a task, shows its events live and asks its questions."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
from httpx_sse import connect_sse


def _token(sub: str) -> str:
    from graphgate.core.settings import get_settings
    from graphgate.gateway.auth import mint_dev_token

    return mint_dev_token(get_settings(), sub)


def _ask(data: dict[str, Any], answers: list[str]) -> Any:
    question = data.get("question") or "The graph asks:"
    print(f"\n? {question}")
    value = data.get("value")
    if isinstance(value, dict) and value.get("outline"):
        for i, item in enumerate(value["outline"], 1):
            print(f"    {i}. {item}")
    for action in data.get("actions") or []:  # a tool approval
        print(f"    {action['name']}({json.dumps(action['args'], ensure_ascii=False)})")
        if action.get("description"):
            print("      " + action["description"].replace("\n", "\n      "))
    if data.get("kind") == "tool_approval":
        print('  answer: approve, reject[: reason] or edit {"arg": "new value"}')
    options = data.get("options") or []
    for i, opt in enumerate(options, 1):
        print(f"  [{i}] {opt['label']}")
    if answers:
        reply = answers.pop(0)
        print(f"> {reply}")
    else:
        reply = input("> ").strip()
    if reply.isdigit() and 1 <= int(reply) <= len(options):
        return options[int(reply) - 1]["value"]
    return reply


def run_interactive(
    *,
    url: str,
    graph: str,
    graph_input: dict[str, Any],
    mode: str,
    config: dict[str, Any],
    session_id: str | None,
    token: str | None,
    sub: str,
    answers: list[str],
) -> int:
    """Run one task to its end; returns 0 when it completed, 1 otherwise."""
    headers = {"Authorization": f"Bearer {token or _token(sub)}"}
    with httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        body = {"graph": graph, "input": graph_input, "mode": mode, "config": config}
        if session_id:
            body["session_id"] = session_id
        resp = client.post("/api/v1/tasks", json=body)
        if resp.status_code != 202:
            print(f"error {resp.status_code}: {resp.text}", file=sys.stderr)
            return 1
        created = resp.json()
        task_id, session = created["task_id"], created["session_id"]
        print(f"task {task_id} in session {session}", file=sys.stderr)
        streaming = False
        last_id = None
        while True:
            params = {"last_event_id": last_id} if last_id else {}
            with connect_sse(client, "GET", f"/api/v1/events/{session}", params=params) as source:
                for sse in source.iter_sse():
                    last_id = sse.id or last_id
                    event = json.loads(sse.data)
                    if event["task_id"] != task_id:
                        continue
                    kind, data = event["type"], event["data"]
                    if kind == "message.delta":
                        streaming = True
                        sys.stdout.write(data["text"])
                        sys.stdout.flush()
                        continue
                    if streaming:
                        sys.stdout.write("\n")
                        streaming = False
                    if kind == "node.completed":
                        print(f"  ✓ {data['node']}", file=sys.stderr)
                    elif kind == "task.started":
                        print(f"  … running (run {data.get('run')}, attempt {data.get('attempt')})", file=sys.stderr)
                    elif kind == "task.retrying":
                        print(f"  ↻ retrying after {data['error']['kind']}", file=sys.stderr)
                    elif kind == "tool.started":
                        print(
                            f"  🔧 {data['tool']} {json.dumps(data['args'], ensure_ascii=False)[:200]}", file=sys.stderr
                        )
                    elif kind == "tool.completed":
                        print(f"  🔧 {data['tool']}: {str(data['result'])[:200]}", file=sys.stderr)
                    elif kind == "interrupt":
                        while True:
                            answer = _ask(data, answers)
                            r = client.post(
                                f"/api/v1/tasks/{task_id}/resume",
                                json={"answer": answer, "interrupt_id": data["interrupt_id"]},
                            )
                            if r.status_code != 422 or not sys.stdin.isatty():
                                break
                            print(f"  {r.json()['error']['message']}", file=sys.stderr)  # refused: ask again
                        if r.status_code != 202:
                            print(f"resume refused ({r.status_code}): {r.text}", file=sys.stderr)
                    elif kind == "task.completed":
                        text = data.get("text")
                        print("\n" + (text if text else json.dumps(data.get("output"), ensure_ascii=False, indent=2)))
                        return 0
                    elif kind == "task.failed":
                        print(f"failed: {data['error']['kind']}: {data['error']['message']}", file=sys.stderr)
                        return 1
                    elif kind == "task.cancelled":
                        print(f"cancelled: {data.get('reason')}", file=sys.stderr)
                        return 1
