"""The graph registry: named graphs loaded from a LangGraph ``langgraph.json``.

Format (the LangGraph CLI's own)::

    {"graphs": {"writer": "./examples/writer.py:graph", "echo": "my_package.graphs:echo"},
     "env": ".env"}

A graph entry is ``path/to/file.py:attr`` (relative to the config file) or ``module.path:attr``. The
attribute may be a ``StateGraph`` builder (compiled here with our checkpointer), an already compiled graph
(our checkpointer is attached to a copy) or a factory taking a ``RunnableConfig`` and returning either.
``env`` is a dotenv file path or a mapping; it is applied to ``os.environ`` without overriding what is set.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from graphgate.core.approvals import Approvals, PolicyError
from graphgate.core.errors import InvalidInput
from graphgate.core.jsonschemas import first_error

BUNDLED_CONFIG = Path(__file__).resolve().parents[2] / "langgraph.json"  # the examples beside the source tree


class RegistryError(RuntimeError):
    """The config file or a graph in it could not be loaded."""


@dataclass
class GraphSpec:
    name: str
    target: str  # "path.py:attr" or "module:attr", as written in the config
    obj: Any  # what the target names: a builder, a compiled graph or a factory
    input_schema: dict[str, Any] | None = None
    input_check: InputCheck | None = None


@dataclass
class InputCheck:
    """A graph's input, checked the way the graph itself takes it.

    A field with a reducer (``messages`` with ``add_messages``) is run through that reducer, so whatever the
    graph coerces is accepted — OpenAI-style role dicts, LangChain ``type`` dicts, plain strings, content
    blocks — and what it cannot coerce is refused with the reducer's own words. Every other field is held to
    the graph's input JSON schema, where overlapping alternatives (``oneOf``) count as any-of: LangGraph does
    not ask for exactly one.
    """

    schema: dict[str, Any] | None  # the input schema without the reducer fields
    reducers: dict[str, Any]  # field -> a copy of its channel, whose update() runs the reducer

    def validate(self, graph: str, value: dict[str, Any]) -> None:
        for field_name, channel in self.reducers.items():
            if field_name not in value:
                continue
            try:
                channel.copy().update([value[field_name]])
            except Exception as exc:  # the reducer's own refusal: ValueError, NotImplementedError, ...
                reason = str(exc).split("\n", 1)[0] or type(exc).__name__
                raise InvalidInput(f"input does not match graph {graph!r}: {field_name}: {reason}") from None
        error = first_error(self.schema, value, "input") if self.schema else None
        if error:
            raise InvalidInput(f"input does not match graph {graph!r}: {error}")


@dataclass
class GraphRegistry:
    config_path: Path | None
    specs: dict[str, GraphSpec] = field(default_factory=dict)
    default_name: str | None = None
    approvals: Approvals = field(
        default_factory=Approvals
    )  # who answers which question where (``graphgate.approvals``)
    _compiled: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def default(self) -> str:
        if self.default_name:
            return self.default_name
        if not self.specs:
            raise RegistryError("no graphs are registered")
        return next(iter(self.specs))

    def names(self) -> list[str]:
        return list(self.specs)

    def validate_input(self, name: str, value: dict[str, Any]) -> None:
        """Raise ``InvalidInput`` for input the graph ``name`` would itself refuse (see ``InputCheck``)."""
        check = self.specs[name].input_check
        if check is not None:
            check.validate(name, value)

    def compiled(self, name: str, checkpointer: Any, config: dict[str, Any] | None = None) -> Any:
        """The graph ``name`` compiled with ``checkpointer``; cached unless the graph is a factory."""
        spec = self.specs[name]
        obj = spec.obj
        is_factory = callable(obj) and not _is_graph(obj)
        if is_factory:
            return _with_checkpointer(_call_factory(obj, config or {}), checkpointer, name)
        cache_key = (name, id(checkpointer))
        with self._lock:
            if cache_key not in self._compiled:
                self._compiled[cache_key] = _with_checkpointer(obj, checkpointer, name)
            return self._compiled[cache_key]


def _is_graph(obj: Any) -> bool:
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    return isinstance(obj, (StateGraph, Pregel))


def _call_factory(factory: Any, config: dict[str, Any]) -> Any:
    params = inspect.signature(factory).parameters
    graph = factory(config) if params else factory()
    if inspect.isawaitable(graph):
        raise RegistryError("async graph factories are not supported; return the graph directly")
    return graph


def _with_checkpointer(obj: Any, checkpointer: Any, name: str) -> Any:
    """The graph compiled with ``checkpointer``; named after its registration when it has LangGraph's default
    name (as the LangGraph server names it: the root run of its callbacks and traces)."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    update: dict[str, Any] = {}
    if isinstance(obj, StateGraph):
        obj = obj.compile(checkpointer=checkpointer)
    elif isinstance(obj, Pregel):
        update["checkpointer"] = checkpointer
    else:
        raise RegistryError(f"{type(obj).__name__} is not a LangGraph graph")
    if obj.name == "LangGraph":
        update["name"] = name
    return obj.copy(update=update) if update else obj


def _input_schema(obj: Any) -> tuple[dict[str, Any] | None, InputCheck | None]:
    """The graph's input JSON schema and its ``InputCheck``, when LangGraph can produce them (factories are
    not introspected)."""
    if not _is_graph(obj):
        return None, None
    from langgraph.channels.binop import BinaryOperatorAggregate
    from langgraph.graph import StateGraph

    try:
        graph = obj.compile() if isinstance(obj, StateGraph) else obj
        schema = graph.get_input_jsonschema()
        jsonschema.Draft202012Validator.check_schema(schema)
    except Exception:  # schema generation is best effort (e.g. typing.TypedDict on Python 3.11)
        return None, None
    props = schema.get("properties") or {}
    reducers = {
        name: channel
        for name, channel in graph.channels.items()
        if name in props and isinstance(channel, BinaryOperatorAggregate)
    }
    rest = {
        **schema,
        "properties": {k: v for k, v in props.items() if k not in reducers},
        "required": [k for k in schema.get("required") or [] if k not in reducers],
    }
    return schema, InputCheck(schema=rest, reducers=reducers)


def _load_target(target: str, base: Path) -> Any:
    location, _, attr = target.rpartition(":")
    if not location or not attr:
        raise RegistryError(f"graph target {target!r} must look like 'path/to/file.py:attr' or 'module:attr'")
    try:
        if location.endswith(".py") or "/" in location:
            path = (base / location).resolve()
            module_name = "graphgate_graph_" + "_".join(path.with_suffix("").parts[-3:]).replace("-", "_")
            if module_name in sys.modules:
                module = sys.modules[module_name]
            else:
                spec = importlib.util.spec_from_file_location(module_name, path)
                if spec is None or spec.loader is None:
                    raise RegistryError(f"cannot load {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
        else:
            module = importlib.import_module(location)
        return getattr(module, attr)
    except RegistryError:
        raise
    except Exception as exc:
        raise RegistryError(f"cannot load graph {target!r}: {exc}") from exc


def _apply_env(env: Any, base: Path) -> None:
    if isinstance(env, dict):
        for key, value in env.items():
            os.environ.setdefault(str(key), str(value))
    elif isinstance(env, str):
        path = base / env
        if path.exists():
            for line in path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, _, value = line.partition("=")
                    os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def load_approvals(config_path: Path | None, approvals_file: Path | None = None) -> Approvals:
    """The approval policies alone, without importing any graph (for processes that run none: the dispatcher)."""
    if approvals_file is None:
        local = Path("langgraph.json")
        path = config_path or (local if local.exists() else BUNDLED_CONFIG)
        try:
            config = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise RegistryError(f"cannot read graph config {path}: {exc}") from exc
        own = config.get("graphgate") or {}
        section = own.get("approvals") if isinstance(own, dict) else None
        graphs = list(config.get("graphs") or {})
    else:
        section, graphs = None, None
    try:
        return Approvals.load(section, approvals_file, graphs)
    except PolicyError as exc:
        raise RegistryError(f"approvals in {approvals_file or config_path}: {exc}") from exc


def load_registry(
    config_path: Path | None, default: str | None = None, approvals_file: Path | None = None
) -> GraphRegistry:
    """Load every graph named in ``config_path`` (``./langgraph.json``, else the bundled examples), and the
    approval policies of its ``graphgate.approvals`` section (or of ``approvals_file``)."""
    if config_path is None:
        local = Path("langgraph.json")
        config_path = local if local.exists() else BUNDLED_CONFIG
    config_path = config_path.resolve()
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read graph config {config_path}: {exc}") from exc
    graphs = config.get("graphs")
    if not isinstance(graphs, dict) or not graphs:
        raise RegistryError(f"{config_path} has no 'graphs' mapping")
    base = config_path.parent
    if "env" in config:
        _apply_env(config["env"], base)
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))  # graphs may import their neighbours, as under the LangGraph CLI
    registry = GraphRegistry(config_path=config_path, default_name=default)
    for name, target in graphs.items():
        if isinstance(target, dict):  # {"path": "...", "description": ...} form
            target = target.get("path", "")
        obj = _load_target(str(target), base)
        schema, check = _input_schema(obj)
        registry.specs[name] = GraphSpec(name=name, target=str(target), obj=obj, input_schema=schema, input_check=check)
    if default is not None and default not in registry.specs:
        raise RegistryError(f"default graph {default!r} is not in {config_path}")
    own = config.get("graphgate") or {}
    try:
        registry.approvals = Approvals.load(
            own.get("approvals") if isinstance(own, dict) else None, approvals_file, list(graphs)
        )
    except PolicyError as exc:
        raise RegistryError(f"approvals in {approvals_file or config_path}: {exc}") from exc
    return registry
