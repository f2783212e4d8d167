"""The ``graphgate`` command: ``up``, ``api``, ``worker``, ``token``, ``doctor`` and ``run``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def _apply_common(args: argparse.Namespace) -> None:
    """Command-line options become GRAPHGATE_* variables, so child processes see them too."""
    if getattr(args, "config", None):
        os.environ["GRAPHGATE_CONFIG"] = str(Path(args.config).resolve())
    from graphgate.core.settings import get_settings

    get_settings.cache_clear()


def cmd_up(args: argparse.Namespace) -> int:
    from graphgate.cli import processes as p
    from graphgate.core.settings import get_settings

    _apply_common(args)
    settings = get_settings()
    sup = p.Supervisor()
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    env: dict[str, str] = {}
    if "dev_login" not in settings.model_fields_set and args.host in ("127.0.0.1", "localhost", "::1"):
        env["GRAPHGATE_DEV_LOGIN"] = "true"  # the demo page's sign-in, on a loopback-only server
    try:
        if args.private_redis or not p.redis_reachable(settings.redis_url):
            if "GRAPHGATE_REDIS_URL" in os.environ and not args.private_redis:
                print(f"graphgate: Redis at {settings.redis_url} is not reachable", file=sys.stderr)
                return 1
            env["GRAPHGATE_REDIS_URL"] = p.start_private_redis(sup, settings.data_dir / "redis")
            print(f"graphgate: started a private Redis at {env['GRAPHGATE_REDIS_URL']}", flush=True)
        sup.start("worker", p.python_cmd("worker"), env)
        sup.start("dispatcher", p.python_cmd("dispatcher"), env)
        sup.start("scheduler", p.python_cmd("scheduler"), env)
        tls = _tls_files(args, settings.tls_certfile, settings.tls_keyfile, settings.data_dir)
        api_args = ["api", "--host", args.host, "--port", str(args.port)]
        if tls is not None:
            api_args += ["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)]
        sup.start("api", p.python_cmd(*api_args), env)
        if not p.wait_until(
            lambda: p.http_ready(args.host, args.port, tls is not None) or stopping or sup.first_exited() is not None,
            60,
        ):
            print("graphgate: the API did not become ready within 60 s", file=sys.stderr)
            return 1
        if sup.first_exited() is None and not stopping:
            shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
            print(
                f"graphgate: ready at {'https' if tls else 'http'}://{shown}:{args.port}  (demo chat /, API docs /docs)\n"
                f"graphgate: a development token: graphgate token --sub you",
                flush=True,
            )
            if tls is not None and tls.cafile is not None:
                print(f"graphgate: HTTPS with a local certificate; clients trust {tls.cafile.resolve()}", flush=True)
        while not stopping:
            exited = sup.first_exited()
            if exited:
                print(f"graphgate: {exited[0]} exited with code {exited[1]}; stopping", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sup.stop()
        print("graphgate: stopped", flush=True)


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings

    # where this process serves: links made outside a request (a chat file's URL) use it without a public URL
    os.environ["GRAPHGATE_HOST"], os.environ["GRAPHGATE_PORT"] = args.host, str(args.port)
    _apply_common(args)
    settings = get_settings()
    configure_logging(settings.log_level)
    tls = _tls_files(args, settings.tls_certfile, settings.tls_keyfile, settings.data_dir)
    uvicorn.run(
        "graphgate.cli.compose:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=args.access_log,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_graceful_shutdown=5,
        ssl_certfile=str(tls.certfile) if tls else None,
        ssl_keyfile=str(tls.keyfile) if tls else None,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings

    _apply_common(args)
    settings = get_settings()
    configure_logging(settings.log_level)
    from graphgate.core.queue import worker_queues
    from graphgate.workers.celery_app import app

    argv = [
        "worker",
        "-Q",
        ",".join(worker_queues(settings, args.queues)),
        "-c",
        str(args.concurrency or settings.worker_concurrency),
        "-P",
        args.pool or settings.worker_pool,
        "--loglevel",
        settings.log_level,
        "-n",
        f"graphgate-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if settings.celery_task_events:  # else off (~1.1 ms of CPU per run); Flower turns them on while it runs
        argv.append("-E")
    app.worker_main(argv)
    return 0


def cmd_flower(args: argparse.Namespace) -> int:
    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings

    _apply_common(args)
    configure_logging(get_settings().log_level)
    from graphgate.core.queue import app

    # Flower's own options (basic auth, URL prefix...) also come from FLOWER_* variables
    app.start(["flower", f"--address={args.host}", f"--port={args.port}"])
    return 0


def _tls_files(args: argparse.Namespace, certfile: Path | None, keyfile: Path | None, data_dir: Path):  # type: ignore[no-untyped-def]
    """The TLS files ``--tls``/``--certfile``/``--keyfile`` (else GRAPHGATE_TLS_*) ask for, or None."""
    from graphgate.cli.tls import TlsConfigError, resolve_tls

    hosts = () if args.host in ("0.0.0.0", "::", "") else (args.host,)
    try:
        return resolve_tls(args.tls, args.certfile or certfile, args.keyfile or keyfile, data_dir, hosts)
    except TlsConfigError as exc:
        print(f"graphgate: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def cmd_dispatcher(args: argparse.Namespace) -> int:
    from graphgate.cli.compose import PLATFORMS
    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings
    from graphgate.workers.dispatcher import main as dispatcher_main

    _apply_common(args)
    settings = get_settings()
    configure_logging(settings.log_level)
    return dispatcher_main(settings, PLATFORMS)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from graphgate.cli.compose import PLATFORMS
    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings
    from graphgate.workers.scheduler import main as scheduler_main

    _apply_common(args)
    settings = get_settings()
    configure_logging(settings.log_level)
    return scheduler_main(settings, PLATFORMS)


def cmd_slack(args: argparse.Namespace) -> int:
    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings

    _apply_common(args)
    settings = get_settings()
    configure_logging(settings.log_level)
    if not args.socket:
        print(
            "graphgate slack: HTTP mode runs inside `graphgate api` at /slack/events; use --socket for Socket Mode",
            file=sys.stderr,
        )
        return 2
    from graphgate.connectors.slack.socket import main as socket_main

    return socket_main(settings)


def cmd_telegram(args: argparse.Namespace) -> int:
    from graphgate.core.logs import configure_logging
    from graphgate.core.settings import get_settings

    _apply_common(args)
    settings = get_settings()
    configure_logging(settings.log_level)
    from graphgate.connectors.telegram.polling import main as telegram_main

    return telegram_main(
        settings, args.telegram_action, args.polling, getattr(args, "url", None), getattr(args, "drop_pending", False)
    )


def cmd_token(args: argparse.Namespace) -> int:
    from graphgate.core.settings import get_settings
    from graphgate.gateway.auth import mint_dev_token

    _apply_common(args)
    print(mint_dev_token(get_settings(), args.sub, args.ttl))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from graphgate.core import connections
    from graphgate.core.settings import get_settings

    _apply_common(args)
    settings = get_settings()
    results: list[tuple[str, bool, str]] = []
    where = f"master {settings.redis_sentinel_master!r} of sentinels {','.join(settings.redis_sentinels)}"
    problem, warnings = _redis_report(settings)
    detail = where if settings.redis_sentinels else settings.redis_url
    results.append(("redis", problem is None, detail if problem is None else f"{detail}: {problem}"))
    results.append(("broker", _broker_answers(), connections.broker_url(settings)))
    try:
        from graphgate.core.checkpointer import check_checkpointer

        check_checkpointer(settings)
        results.append(("checkpointer", True, settings.checkpointer_url or "sqlite (embedded)"))
    except Exception as exc:
        results.append(("checkpointer", False, str(exc)))
    try:
        from graphgate.core.registry import load_registry

        registry = load_registry(settings.config, settings.default_graph, settings.approvals_file)
        results.append(("graphs", True, f"{', '.join(registry.names())} from {registry.config_path}"))
    except Exception as exc:
        results.append(("graphs", False, str(exc)))
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name:<13} {detail}")
    for warning in warnings:  # Redis answers: does it keep what it holds?
        print(f"warn redis        {warning}")
    return 0 if all(ok for _, ok, _ in results) else 1


def _broker_answers() -> bool:
    """The Celery broker accepts a connection (Redis, through Sentinel, or RabbitMQ alike)."""
    from graphgate.core.queue import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        return True
    except Exception:
        return False


def _redis_report(settings: Any) -> tuple[str | None, list[str]]:
    """Why the state Redis cannot be used (it does not answer PING, through its sentinels when they are set, or
    it is a Redis Cluster node), else None; and, when it can, whether it keeps what it holds (durability
    warnings). One connection for both."""
    import asyncio

    from graphgate.core.connections import async_client
    from graphgate.core.durability import check_redis, unsupported

    async def check() -> tuple[str | None, list[str]]:
        client = async_client(settings, decode_responses=True, socket_connect_timeout=2, socket_timeout=5)
        try:
            await client.ping()
            problem = await unsupported(client)
            return problem, [] if problem else await check_redis(client)
        except Exception as exc:
            return f"does not answer ({exc})", []
        finally:
            await client.aclose()

    return asyncio.run(check())


def cmd_run(args: argparse.Namespace) -> int:
    from graphgate.cli.client import run_interactive

    _apply_common(args)
    try:
        payload = json.loads(args.input) if args.input else {}
        config = json.loads(args.config_values) if args.config_values else {}
    except ValueError as exc:
        print(f"graphgate run: --input and --set must be JSON objects: {exc}", file=sys.stderr)
        return 2
    return run_interactive(
        url=args.url,
        graph=args.graph,
        graph_input=payload,
        mode=args.mode,
        config=config,
        session_id=args.session,
        token=args.token,
        sub=args.sub,
        answers=args.answer or [],
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphgate", description="Run LangGraph graphs behind chat platforms.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", help="langgraph.json naming the graphs (default ./langgraph.json)")
        return p

    def with_tls(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--tls", action="store_true", help="serve HTTPS (a local certificate unless --certfile/--keyfile)"
        )
        p.add_argument("--certfile", help="certificate chain (PEM); default GRAPHGATE_TLS_CERTFILE")
        p.add_argument("--keyfile", help="its private key (PEM); default GRAPHGATE_TLS_KEYFILE")

    up = with_config(
        sub.add_parser("up", help="run API, worker, dispatcher and scheduler (and a private Redis if needed)")
    )
    up.add_argument("--host", default=os.environ.get("GRAPHGATE_HOST", "127.0.0.1"))
    up.add_argument("--port", type=int, default=int(os.environ.get("GRAPHGATE_PORT", "8000")))
    up.add_argument("--private-redis", action="store_true", help="always start a private Redis in the data dir")
    with_tls(up)
    up.set_defaults(func=cmd_up)

    api = with_config(sub.add_parser("api", help="run the HTTP API"))
    api.add_argument("--host", default=os.environ.get("GRAPHGATE_HOST", "127.0.0.1"))
    api.add_argument("--port", type=int, default=int(os.environ.get("GRAPHGATE_PORT", "8000")))
    api.add_argument("--access-log", action="store_true")
    api.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    with_tls(api)
    api.set_defaults(func=cmd_api)

    worker = with_config(sub.add_parser("worker", help="run a Celery worker"))
    worker.add_argument("--concurrency", type=int)
    worker.add_argument("--pool", choices=["prefork", "threads", "solo"])
    worker.add_argument(
        "--queues",
        help="queues to consume, first = highest priority: 'default' or names used in "
        "GRAPHGATE_GRAPH_QUEUES, e.g. 'long,default' (default: the default queue)",
    )
    worker.set_defaults(func=cmd_worker)

    flower = with_config(sub.add_parser("flower", help="run Flower, the Celery monitor, on the graphgate app"))
    flower.add_argument("--host", default="127.0.0.1")
    flower.add_argument("--port", type=int, default=5555)
    flower.set_defaults(func=cmd_flower)

    dispatcher = with_config(sub.add_parser("dispatcher", help="deliver task events to Slack and other chats"))
    dispatcher.set_defaults(func=cmd_dispatcher)

    scheduler = with_config(sub.add_parser("scheduler", help="start the runs of schedules when their time comes"))
    scheduler.set_defaults(func=cmd_scheduler)

    slack = with_config(sub.add_parser("slack", help="run the Slack connector in Socket Mode"))
    slack.add_argument("--socket", action="store_true", help="connect to Slack over Socket Mode (app token)")
    slack.set_defaults(func=cmd_slack)

    telegram = with_config(sub.add_parser("telegram", help="run the Telegram connector by polling, or set its webhook"))
    telegram.add_argument("--polling", action="store_true", help="fetch updates with getUpdates (no public URL)")
    telegram.set_defaults(func=cmd_telegram, telegram_action=None)
    telegram_sub = telegram.add_subparsers(dest="telegram_action")
    set_webhook = telegram_sub.add_parser("set-webhook", help="register <url>/telegram/webhook with Telegram")
    set_webhook.add_argument("--url", help="the gateway's public HTTPS URL (default GRAPHGATE_PUBLIC_URL)")
    set_webhook.add_argument("--drop-pending", action="store_true", help="discard updates Telegram still holds")
    delete_webhook = telegram_sub.add_parser("delete-webhook", help="stop Telegram sending updates to the webhook")
    delete_webhook.add_argument("--drop-pending", action="store_true", help="discard updates Telegram still holds")

    token = sub.add_parser("token", help="print a development bearer token")
    token.add_argument("--sub", required=True, help="the principal (JWT subject)")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="seconds until it expires")
    token.set_defaults(func=cmd_token)

    doctor = with_config(sub.add_parser("doctor", help="check Redis, broker, checkpointer and graphs"))
    doctor.set_defaults(func=cmd_doctor)

    run = sub.add_parser("run", help="run a graph from the terminal and answer its questions")
    run.add_argument("graph")
    run.add_argument("--input", help='graph input as JSON, e.g. \'{"topic": "..."}\'')
    run.add_argument("--set", dest="config_values", help="the graph's configurable values as JSON")
    run.add_argument("--mode", choices=["interactive", "auto"], default="interactive")
    run.add_argument("--session", help="continue this session")
    run.add_argument("--url", default=os.environ.get("GRAPHGATE_URL", "http://127.0.0.1:8000"))
    run.add_argument("--token", default=os.environ.get("GRAPHGATE_TOKEN"))
    run.add_argument("--sub", default=os.environ.get("USER", "cli"), help="principal for a minted dev token")
    run.add_argument("--answer", action="append", help="answer the next question with this (repeatable)")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
