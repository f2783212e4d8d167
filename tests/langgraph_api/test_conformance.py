"""graphgate's LangGraph Server API against the LangGraph server itself: the scenarios of conformance.py run
against a real graphgate stack and ``langgraph dev`` serving the same graphs (tests/langgraph_api/langgraph.json),
and every difference between their answers must be one conformance_known.py expects, while every difference it
expects must still occur, so the list stays the true account of how graphgate differs.

The full comparison is written to ``conformance-report.txt`` in the pytest tmp dir (its path is printed); set
``CONFORMANCE_REPORT=path`` to also have it as markdown there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.systems import peer_missing
from graphgate.testing.stack import ROOT, running_stack, token
from tests.langgraph_api.conformance import (
    EXPECTED_FAILURES,
    SIDES,
    Difference,
    Hooks,
    Recorder,
    Target,
    compare,
    langgraph_dev,
    report,
    run_all,
)
from tests.langgraph_api.conformance_known import KNOWN

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("langgraph.json")
DOCS = ROOT / "docs" / "langgraph-api.md"


# the webhook receiver listens on loopback, which both servers refuse unless told (langgraph_dev tells its own)
GRAPHGATE_ENV = {"GRAPHGATE_CONFIG": str(CONFIG), "GRAPHGATE_WEBHOOK_ALLOW_PRIVATE": "1"}


def credentials(principal: str) -> dict[str, str]:
    """A principal's bearer token (langgraph dev, which runs without auth, ignores it)."""
    return {"Authorization": f"Bearer {token(f'conformance {principal}')}"}


@dataclass
class Comparison:
    results: dict[str, dict[str, Recorder]]
    differences: list[Difference]
    report: Path


@pytest.fixture(scope="module")
def comparison(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Comparison]:
    """Both servers started once, every scenario run against each, the differences and the written report."""
    missing = peer_missing()
    if missing:
        pytest.skip(f"langgraph dev cannot run here: {missing}")
    tmp = tmp_path_factory.mktemp("conformance")
    (tmp / "langgraph-dev").mkdir()
    hooks = Hooks()
    try:
        with ExitStack() as servers:
            # both start at once: each spends its seconds importing and waiting, not on the same thing
            with ThreadPoolExecutor(2) as pool:
                peer = pool.submit(servers.enter_context, langgraph_dev(CONFIG, tmp / "langgraph-dev"))
                stack = pool.submit(
                    servers.enter_context, running_stack(redis_url, tmp / "graphgate", GRAPHGATE_ENV, concurrency=4)
                )
            urls = (stack.result().url, peer.result())
            results = run_all([Target(side, url, credentials, hooks) for side, url in zip(SIDES, urls)])
    finally:
        hooks.close()
    differences = compare(results)
    path = tmp / "conformance-report.txt"
    path.write_text(report(results, differences, KNOWN))
    if os.environ.get("CONFORMANCE_REPORT"):
        Path(os.environ["CONFORMANCE_REPORT"]).write_text(report(results, differences, KNOWN, markdown=True))
    with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():  # shown uncaptured
        print(f"\nconformance report: {path}")
    yield Comparison(results, differences, path)


def test_the_reference_answers_every_scenario(comparison: Comparison) -> None:
    """The scenarios themselves are right: the LangGraph server fails only where failing is the answer."""
    failed = {
        key: f"{seen.failure} {seen.message}"
        for rec in comparison.results["langgraph"].values()
        for key, seen in rec.seen.items()
        if seen.failure and key not in EXPECTED_FAILURES
    }
    assert not failed, f"langgraph dev failed these calls (report: {comparison.report}): {failed}"


def test_every_difference_is_known(comparison: Comparison) -> None:
    new = [d for d in comparison.differences if d.key not in KNOWN]
    shown = "\n".join(f"  {d.key!r}: {' | '.join(d.details)}" for d in new)
    assert not new, f"{len(new)} differences not in conformance_known.KNOWN (report: {comparison.report}):\n{shown}"


def test_every_known_difference_still_occurs(comparison: Comparison) -> None:
    found = {d.key for d in comparison.differences}
    gone = sorted(key for key in KNOWN if key not in found)
    assert not gone, f"KNOWN lists differences that no longer occur; remove them: {gone}"


def test_every_known_difference_says_why() -> None:
    documented = {int(n) for n in re.findall(r"^(\d+)\. \*\*", DOCS.read_text().split("## Differences")[1], re.M)}
    for key, known in KNOWN.items():
        assert known.reason.strip() and "\n" not in known.reason, key
        assert known.item is None or known.item in documented, f"{key}: no difference {known.item} in {DOCS}"
