"""Approval policies: who may answer a graph's question, where it is asked, how many must agree, and what
happens when nobody answers in time.

Without a policy a question is answered by the person who started the task, where they started it. A
policy routes it: it names the approvers (Slack users or user groups, Telegram users, JWT subjects or claim
values, and whether the starter is one of them), the places the question is posted (Slack channels,
Telegram groups, a direct message to each listed approver, the starter's own thread), how many approvals
are needed (``required``: any one, or N of them), a reminder interval, and a timeout with its outcome
(``reject``, ``approve``, ``{"answer": value}`` or ``{"escalate": "<next policy>"}``).

Configuration lives in ``langgraph.json`` under ``graphgate.approvals`` (or a file named by
``GRAPHGATE_APPROVALS_FILE``)::

    {"graphgate": {"approvals": {
        "policies": {
            "finance": {"label": "@finance",
                        "approvers": {"slack": {"users": ["U0FIN1"], "groups": ["S0FIN"]},
                                      "telegram": {"users": [4242]}, "api": {"claims": {"role": "finance"}}},
                        "post": [{"slack": {"channel": "C0FIN"}}, "starter"],
                        "required": 2, "remind_every": "4h", "timeout": "1d",
                        "on_timeout": {"escalate": "cfo"}}},
        "graphs": {"agent": {"tools": {"send_email": "finance"}}, "writer": "editors"}}}}

Which policy a question gets (``Approvals.policy_for``): the interrupt value's ``route`` key names one; else
a tool approval (LangChain's ``HumanInTheLoopMiddleware``) takes its graph's policy for the first tool call
whose name is mapped; else the graph's ``default``; else none.

A policy is resolved into an *approval* when the question is asked: a JSON object stored with the task
(``TaskRecord.approvals``, per interrupt id) and sent with the ``interrupt`` event, holding the policy as it
was (so a config change never alters a question already asked), the places as chat bindings, the deadline
and the votes. The task service (graphgate/core/tasks.py) authorizes answers against it, counts votes and
applies it when the clock runs out (``next_step``).

N of M: an answer that approves (a tool approval's ``approve`` decisions, an option or text such as
``approve``/``yes``) counts as one vote per person; the question is answered once ``required`` different
people approved. Any other answer (reject, revise, edit) from an allowed approver applies at once: one
objection is enough to stop.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphgate.core import interrupts
from graphgate.core.errors import Conflict

ROUTE_KEY = "route"  # the key of an interrupt value that names its policy
STARTER = "starter"  # in ``post``: the starter's own thread; in ``approvers``: the starter may answer
APPROVERS = "approvers"  # in ``post``: a direct message to each approver listed by user id
OUTCOMES = ("reject", "approve")  # the plain outcomes of a timeout (others: {"answer": v}, {"escalate": name})
TIMEOUT_BY = "graphgate:timeout"  # the ``by`` of an answer the clock gave
MAX_ESCALATIONS = 10  # a chain of escalations longer than this (a cycle) ends with the last policy's outcome
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
TIMEOUT_REASON = "No approval before the deadline"
NEVER = float("inf")  # the clock score of an open question without reminders or deadline


class PolicyError(ValueError):
    """The approvals configuration is not valid; the message says where."""


class AlreadyApproved(Conflict):
    """This approver's vote is in; the question waits for the others."""


@dataclass(frozen=True)
class Actor:
    """Someone answering a question, as the channel they answered in knows them.

    ``kind`` is the door they came in by: ``slack`` (``user`` a Slack user id, ``groups`` the user groups of
    the policy they are in), ``telegram`` (``user`` a Telegram user id) or ``api`` (``user`` the JWT
    subject, ``claims`` the token's claims). ``ref`` is what the task's events record as ``by``.
    """

    principal_id: str  # the principal the channel acts as (slack:T:U, telegram:<chat>, the JWT sub)
    kind: str
    user: str
    ref: str
    name: str = ""  # a display name, when the channel has one
    where: str = ""  # where the answer was given: slack:T:C, telegram:<chat>, api
    team: str = ""
    groups: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def api(cls, principal_id: str, claims: Mapping[str, Any] | None = None, by: str | None = None) -> Actor:
        """A caller of the HTTP API (or a connector answering for its own principal, ``by`` its user)."""
        return cls(principal_id, "api", principal_id, by or principal_id, where="api", claims=dict(claims or {}))

    def is_starter(self, owner: str, binding: Mapping[str, Any] | None) -> bool:
        """True when this actor started the task owned by ``owner`` with chat ``binding``."""
        if self.principal_id != owner:
            return False
        starter = (binding or {}).get("user")  # a Telegram group's tasks belong to the group: the member counts
        if (binding or {}).get("platform") == "telegram" and starter is not None:
            return self.kind == "telegram" and self.user == str(starter)
        return True


# --- the policy as configured ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approvers:
    """Who may answer."""

    slack_users: tuple[str, ...] = ()  # Slack user ids (U…), or team:user
    slack_groups: tuple[str, ...] = ()  # Slack user group ids (S…): their members, looked up when they click
    telegram_users: tuple[str, ...] = ()  # Telegram user ids
    subjects: tuple[str, ...] = ()  # JWT subjects (the API)
    claims: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # claim -> accepted values (the API)
    starter: bool = False  # the person who started the task is an approver too

    def to_dict(self) -> dict[str, Any]:
        return {
            "slack": {"users": list(self.slack_users), "groups": list(self.slack_groups)},
            "telegram": {"users": list(self.telegram_users)},
            "api": {"subjects": list(self.subjects), "claims": {k: list(v) for k, v in self.claims.items()}},
            STARTER: self.starter,
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = "approvers") -> Approvers:
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where} must be an object")
        slack = _section(raw, "slack", where)
        telegram = _section(raw, "telegram", where)
        api = _section(raw, "api", where)
        claims = api.get("claims") or {}
        if not isinstance(claims, Mapping):
            raise PolicyError(f"{where}.api.claims must be an object of claim -> value(s)")
        unknown = set(raw) - {"slack", "telegram", "api", STARTER}
        if unknown:
            raise PolicyError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        return cls(
            slack_users=_strings(slack.get("users"), f"{where}.slack.users"),
            slack_groups=_strings(slack.get("groups"), f"{where}.slack.groups"),
            telegram_users=_strings(telegram.get("users"), f"{where}.telegram.users"),
            subjects=_strings(api.get("subjects"), f"{where}.api.subjects"),
            claims={str(k): _strings(v, f"{where}.api.claims.{k}") for k, v in claims.items()},
            starter=bool(raw.get(STARTER, False)),
        )

    def allows(self, actor: Actor, starter: bool) -> bool:
        """True when ``actor`` may answer (``starter``: the actor started the task)."""
        if starter and self.starter:
            return True
        if actor.kind == "slack":
            return (
                actor.user in self.slack_users
                or f"{actor.team}:{actor.user}" in self.slack_users
                or bool(actor.groups & set(self.slack_groups))
            )
        if actor.kind == "telegram":
            return actor.user in self.telegram_users
        if actor.kind == "api":
            if actor.user in self.subjects:
                return True
            for claim, accepted in self.claims.items():
                held = actor.claims.get(claim)
                values = held if isinstance(held, list) else [held]
                if any(str(v) in accepted for v in values if v is not None):
                    return True
        return False


@dataclass(frozen=True)
class Policy:
    name: str
    label: str  # how people are told who decides ("@finance")
    approvers: Approvers
    post: tuple[Any, ...]  # "starter", "approvers", {"slack": {"channel", "team"?}}, {"telegram": {"chat"}}
    required: int = 1
    remind_every: float | None = None
    timeout: float | None = None
    on_timeout: Any = "reject"  # "reject" | "approve" | {"answer": value} | {"escalate": policy name}

    @property
    def escalate_to(self) -> str | None:
        return (
            str(self.on_timeout["escalate"])
            if isinstance(self.on_timeout, dict) and "escalate" in self.on_timeout
            else None
        )

    @classmethod
    def from_dict(cls, name: str, raw: Any) -> Policy:
        where = f"policies.{name}"
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where} must be an object")
        unknown = set(raw) - {"label", "approvers", "post", "required", "remind_every", "timeout", "on_timeout"}
        if unknown:
            raise PolicyError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        approvers = Approvers.from_dict(raw.get("approvers") or {}, f"{where}.approvers")
        post = raw.get("post", [STARTER])
        if not isinstance(post, list) or not post:
            raise PolicyError(f"{where}.post must be a non-empty list of places")
        for n, place in enumerate(post):
            _check_place(place, f"{where}.post[{n}]")
        required = raw.get("required", 1)
        if not isinstance(required, int) or isinstance(required, bool) or required < 1:
            raise PolicyError(f"{where}.required must be a whole number of at least 1")
        on_timeout = raw.get("on_timeout", "reject")
        if not (
            on_timeout in OUTCOMES
            or (isinstance(on_timeout, Mapping) and set(on_timeout) == {"answer"})
            or (
                isinstance(on_timeout, Mapping)
                and set(on_timeout) == {"escalate"}
                and isinstance(on_timeout["escalate"], str)
            )
        ):
            raise PolicyError(
                f'{where}.on_timeout must be "reject", "approve", {{"answer": value}} or {{"escalate": "<policy>"}}'
            )
        policy = cls(
            name=name,
            label=str(raw.get("label") or name),
            approvers=approvers,
            post=tuple(post),
            required=required,
            remind_every=duration(raw.get("remind_every"), f"{where}.remind_every"),
            timeout=duration(raw.get("timeout"), f"{where}.timeout"),
            on_timeout=dict(on_timeout) if isinstance(on_timeout, Mapping) else on_timeout,
        )
        if (
            not any(
                (
                    approvers.slack_users,
                    approvers.slack_groups,
                    approvers.telegram_users,
                    approvers.subjects,
                    approvers.claims,
                )
            )
            and not approvers.starter
        ):
            raise PolicyError(f"{where}.approvers names nobody: nobody could ever answer")
        return policy


def _section(raw: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}.{name} must be an object")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise PolicyError(f"{where} must be a list of ids")
    return tuple(str(v) for v in value)


def _check_place(place: Any, where: str) -> None:
    if place in (STARTER, APPROVERS):
        return
    if isinstance(place, Mapping) and set(place) == {"slack"} and isinstance(place["slack"], Mapping):
        if isinstance(place["slack"].get("channel"), str) and place["slack"]["channel"]:
            return
    if isinstance(place, Mapping) and set(place) == {"telegram"} and isinstance(place["telegram"], Mapping):
        chat = place["telegram"].get("chat")
        if isinstance(chat, int) and not isinstance(chat, bool):
            return
    raise PolicyError(
        f'{where} must be "starter", "approvers", {{"slack": {{"channel": "C…"}}}} or {{"telegram": {{"chat": -100…}}}}'
    )


def duration(value: Any, where: str = "duration") -> float | None:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"4h"``, ``"1d"`` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise PolicyError(f'{where} must be a positive number of seconds or a duration such as "30s", "5m", "4h", "1d"')
    return float(match.group(1)) * _UNITS[match.group(2)]


# --- the configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRoutes:
    default: str | None = None
    tools: Mapping[str, str] = field(default_factory=dict)  # tool name -> policy


@dataclass(frozen=True)
class Approvals:
    """Every policy, and which graph (or tool) uses which."""

    policies: Mapping[str, Policy] = field(default_factory=dict)
    graphs: Mapping[str, GraphRoutes] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Any, graph_names: list[str] | None = None) -> Approvals:
        """Read and check the ``approvals`` section (``PolicyError`` says what is wrong, and where)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise PolicyError("approvals must be an object with 'policies' and 'graphs'")
        unknown = set(raw) - {"policies", "graphs"}
        if unknown:
            raise PolicyError(f"approvals has unknown keys: {', '.join(sorted(unknown))}")
        raw_policies = raw.get("policies") or {}
        if not isinstance(raw_policies, Mapping):
            raise PolicyError("approvals.policies must be an object of name -> policy")
        policies = {str(name): Policy.from_dict(str(name), body) for name, body in raw_policies.items()}
        for policy in policies.values():
            target = policy.escalate_to
            if target is not None and target not in policies:
                raise PolicyError(f"policies.{policy.name}.on_timeout escalates to unknown policy {target!r}")
        graphs: dict[str, GraphRoutes] = {}
        raw_graphs = raw.get("graphs") or {}
        if not isinstance(raw_graphs, Mapping):
            raise PolicyError("approvals.graphs must be an object of graph -> policy")
        for graph, route in raw_graphs.items():
            where = f"approvals.graphs.{graph}"
            if graph_names is not None and graph not in graph_names:
                raise PolicyError(f"{where}: no graph {graph!r} is registered")
            if isinstance(route, str):
                route = {"default": route}
            if not isinstance(route, Mapping) or set(route) - {"default", "tools"}:
                raise PolicyError(f'{where} must be a policy name or {{"default": …, "tools": {{tool: policy}}}}')
            tools = route.get("tools") or {}
            if not isinstance(tools, Mapping):
                raise PolicyError(f"{where}.tools must be an object of tool name -> policy")
            for name in [route.get("default"), *tools.values()]:
                if name is not None and name not in policies:
                    raise PolicyError(f"{where} names unknown policy {name!r}")
            graphs[str(graph)] = GraphRoutes(route.get("default"), {str(k): str(v) for k, v in tools.items()})
        return cls(policies, graphs)

    @classmethod
    def load(cls, section: Any, file: Path | None, graph_names: list[str] | None = None) -> Approvals:
        """The approvals of a ``langgraph.json`` section, or of ``file`` (a JSON file) when given."""
        if file is not None:
            try:
                section = json.loads(Path(file).read_text())
            except (OSError, ValueError) as exc:
                raise PolicyError(f"cannot read approvals file {file}: {exc}") from exc
            section = section.get("approvals", section) if isinstance(section, Mapping) else section
        return cls.from_dict(section, graph_names)

    def policy_for(self, graph: str, data: Mapping[str, Any]) -> Policy | None:
        """The policy of the interrupt described by ``data`` (its event data) in ``graph``, if any."""
        value = data.get("value")
        if isinstance(value, Mapping) and isinstance(value.get(ROUTE_KEY), str) and value[ROUTE_KEY] in self.policies:
            return self.policies[value[ROUTE_KEY]]
        routes = self.graphs.get(graph)
        if routes is None:
            return None
        for action in data.get("actions") or []:
            name = routes.tools.get(str(action.get("name")))
            if name is not None:
                return self.policies[name]
        return self.policies[routes.default] if routes.default else None


# --- an approval: a policy resolved for one question --------------------------------------------------------


def target_key(binding: Mapping[str, Any]) -> str:
    """A short stable name of a place (the dispatcher keys what it posted there by it)."""
    raw = json.dumps({k: binding.get(k) for k in ("platform", "team", "channel", "chat")}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:10]


def places(policy: Policy, starter_binding: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The chat bindings a policy's question is posted to, besides the starter's own thread."""
    team = str((starter_binding or {}).get("team") or "") if (starter_binding or {}).get("platform") == "slack" else ""
    out: list[dict[str, Any]] = []
    for place in policy.post:
        if place == APPROVERS:
            for user in policy.approvers.slack_users:
                user_team, _, user_id = user.rpartition(":")
                out.append({"platform": "slack", "team": user_team or team, "channel": user_id, "dm": True})
            for user in policy.approvers.telegram_users:
                out.append({"platform": "telegram", "chat": int(user), "chat_type": "private"})
        elif isinstance(place, Mapping) and "slack" in place:
            out.append(
                {
                    "platform": "slack",
                    "team": str(place["slack"].get("team") or team),
                    "channel": place["slack"]["channel"],
                }
            )
        elif isinstance(place, Mapping) and "telegram" in place:
            out.append({"platform": "telegram", "chat": place["telegram"]["chat"], "chat_type": "group"})
    unique: dict[str, dict[str, Any]] = {}
    for binding in out:
        binding["audience"] = APPROVERS
        if (starter_binding or {}).get("platform") == binding["platform"] and _same_place(
            binding, starter_binding or {}
        ):
            continue  # the starter's own chat already shows the question
        unique.setdefault(target_key(binding), binding)
    return list(unique.values())


def _same_place(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a["platform"] == "slack":
        return a.get("channel") == b.get("channel") and not b.get("thread_ts")
    return a.get("chat") == b.get("chat") and b.get("thread") is None


def resolve(
    policy: Policy,
    starter_binding: Mapping[str, Any] | None,
    asked_by: str,
    now: float | None = None,
    level: int = 0,
) -> dict[str, Any]:
    """The approval of a question asked now under ``policy`` in a task of ``asked_by`` (its owner): what it
    takes, where it is posted, until when."""
    now = time.time() if now is None else now
    return {
        "policy": policy.name,
        "asked_by": asked_by,
        "label": policy.label,
        "approvers": policy.approvers.to_dict(),
        "in_thread": STARTER in policy.post,
        "targets": places(policy, starter_binding),
        "required": policy.required,
        "remind_every": policy.remind_every,
        "timeout": policy.timeout,
        "on_timeout": policy.on_timeout,
        "asked_at": now,
        "deadline": now + policy.timeout if policy.timeout else None,
        "next_reminder": now + policy.remind_every if policy.remind_every else None,
        "reminders": 0,
        "votes": {},
        "level": level,
    }


def escalate_target(approval: Mapping[str, Any]) -> str | None:
    """The policy an approval escalates to when its deadline passes, if it escalates."""
    outcome = approval.get("on_timeout")
    return str(outcome["escalate"]) if isinstance(outcome, Mapping) and "escalate" in outcome else None


def ask(
    routes: Approvals,
    graph: str,
    pending: list[dict[str, Any]],
    owner: str,
    binding: Mapping[str, Any] | None,
    now: float | None = None,
) -> dict[str, Any]:
    """The approvals of the questions of a pause (interrupt event data) that a policy routes, by interrupt id."""
    asked: dict[str, Any] = {}
    for data in pending:
        policy = routes.policy_for(graph, data)
        if policy is not None:
            asked[data["interrupt_id"]] = resolve(policy, binding, asker(owner, binding), now)
    return asked


def asker(owner: str, binding: Mapping[str, Any] | None) -> str:
    """Who asks a routed question: the Slack user (as a principal id) or the Telegram member (by name) who
    started the task, else its owner."""
    binding = binding or {}
    if binding.get("platform") == "slack" and binding.get("user"):
        return f"slack:{binding.get('team')}:{binding.get('user')}"
    if binding.get("platform") == "telegram" and binding.get("user_name"):
        return str(binding["user_name"])
    return owner


def approvers_of(approval: Mapping[str, Any]) -> Approvers:
    return Approvers.from_dict(approval.get("approvers") or {})


def may_answer(approval: Mapping[str, Any], actor: Actor, starter: bool) -> bool:
    return approvers_of(approval).allows(actor, starter)


def slack_groups(approval: Mapping[str, Any] | None) -> list[str]:
    """The Slack user groups whose members may answer (a Slack connector looks a clicker up in them)."""
    return list(((approval or {}).get("approvers") or {}).get("slack", {}).get("groups") or [])


def is_approval(data: Mapping[str, Any], value: Any) -> bool:
    """True when the resume ``value`` approves the question ``data`` (it counts as one vote of N)."""
    if data.get("kind") == interrupts.TOOL_APPROVAL:
        decisions = value.get("decisions") if isinstance(value, dict) and "decisions" in value else value
        decisions = decisions if isinstance(decisions, list) else [decisions]
        return bool(decisions) and all(isinstance(d, dict) and d.get("type") == "approve" for d in decisions)
    words = {str(value).strip().casefold()}
    for option in data.get("options") or []:
        if option.get("value") == value:
            words.add(str(option.get("label", "")).strip().casefold())
    return bool(words & interrupts.APPROVE_WORDS)


def due_at(approval: Mapping[str, Any]) -> float | None:
    """When the clock next has something to do for this approval (a reminder or the deadline), if ever."""
    times = [t for t in (approval.get("next_reminder"), approval.get("deadline")) if t]
    return min(times) if times else None


def timeout_answer(data: Mapping[str, Any], outcome: Any) -> Any:
    """The answer a timeout gives to the question ``data``: ``reject``, ``approve`` or ``{"answer": v}``."""
    if isinstance(outcome, Mapping) and "answer" in outcome:
        return outcome["answer"]
    if data.get("kind") == interrupts.TOOL_APPROVAL:
        actions = data.get("actions") or []
        if outcome == "approve":
            return [{"type": "approve"} for _ in actions]
        return [{"type": "reject", "message": TIMEOUT_REASON} for _ in actions]
    words = interrupts.APPROVE_WORDS if outcome == "approve" else interrupts.REJECT_WORDS
    for option in data.get("options") or []:
        if {str(option.get("value", "")).casefold(), str(option.get("label", "")).casefold()} & words:
            return option.get("value")
    return outcome


def describe(approval: Mapping[str, Any]) -> str:
    """ "@finance (2 of 3 approvals)" style: who decides and how far they got."""
    label = str(approval.get("label") or approval.get("policy") or "approvers")
    required = int(approval.get("required") or 1)
    if required == 1:
        return label
    given = sum(1 for v in (approval.get("votes") or {}).values() if v.get("approves"))
    return f"{label} ({given} of {required} approvals)"
