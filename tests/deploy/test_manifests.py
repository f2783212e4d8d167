"""deploy/: docker-compose.yml, the Dockerfile, the Kubernetes manifests and the nginx template hold together."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from graphgate.testing.stack import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value
    return out


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy and subprocess.run([legacy, "version"], capture_output=True).returncode == 0:
        return [legacy]
    return None


def test_compose_config_with_the_docker_client() -> None:
    """``docker compose config`` (or docker-compose) validates the file against the Compose specification;
    it needs no Docker engine."""
    client = _compose_client()
    if client is None:
        pytest.skip("no docker compose client here; test_compose_structure checks the file instead")
    out = subprocess.run(
        [*client, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rendered = yaml.safe_load(out.stdout)
    assert set(rendered["services"]) == set(compose()["services"])
    assert rendered["services"]["api"]["environment"]["GRAPHGATE_CHECKPOINTER_URL"].startswith(
        "postgresql://graphgate:"
    )


def test_compose_structure() -> None:
    doc = compose()
    services = doc["services"]
    assert set(services) == {"redis", "postgres", "api", "worker", "dispatcher", "scheduler", "flower", "nginx"}

    # Redis persists with AOF, fsync every second, and refuses writes rather than evicting keys
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--appendfsync everysec" in redis_cmd
    assert "--maxmemory-policy noeviction" in redis_cmd

    # every service a dependency waits on is healthy-checked; named volumes are declared
    declared = set(doc["volumes"])
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, (name, dep)
            if cond.get("condition") == "service_healthy":
                assert "test" in services[dep].get("healthcheck", {}), (name, dep)
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in declared, (name, source)
    for name in ("redis", "postgres", "api", "nginx"):
        assert services[name]["healthcheck"]["test"], name

    # the roles: gunicorn with uvicorn workers and the app factory; graphgate worker / dispatcher / flower
    api_cmd = services["api"]["command"]
    assert (
        api_cmd[:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
        and api_cmd[-1] == "graphgate.cli.compose:create_app()"
    )
    assert "uvicorn_worker.UvicornWorker" in (DEPLOY / "gunicorn.conf.py").read_text()
    assert services["worker"]["command"][:2] == ["graphgate", "worker"]
    assert services["dispatcher"]["command"] == ["graphgate", "dispatcher"]
    assert services["flower"]["command"][:2] == ["graphgate", "flower"]
    assert services["api"]["environment"]["GRAPHGATE_CHECKPOINTER_URL"].startswith("postgresql://")
    assert services["api"]["environment"]["GRAPHGATE_REDIS_URL"] == "redis://redis:6379/0"
    assert services["worker"]["stop_grace_period"]  # warm shutdown gets time to finish runs
    assert (ROOT / services["api"]["build"]["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()

    # nginx renders deploy/nginx/graphgate.conf as a template and gets a value for each of its placeholders
    nginx = services["nginx"]
    assert "./nginx/graphgate.conf:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    conf = (DEPLOY / "nginx" / "graphgate.conf").read_text()
    code = "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    placeholders = set(re.findall(r"\$\{(GRAPHGATE_[A-Z_]+)\}", code))
    assert placeholders and placeholders <= set(nginx["environment"]), placeholders - set(nginx["environment"])

    # every variable the file requires (${VAR:?...}) is in .env.example
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required <= set(env_example()), required - set(env_example())


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert (
        text.splitlines()[next(i for i, line in enumerate(text.splitlines()) if line.startswith("FROM"))]
        == "FROM python:3.11-slim"
    )
    assert "RUN pip install ." in text
    for source in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert re.search(r"^USER \w+", text, flags=re.M)  # not root


def test_nginx_template_directives() -> None:
    conf = (DEPLOY / "nginx" / "graphgate.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf and "ssl http2;" in conf
    assert re.search(r'add_header Strict-Transport-Security "max-age=\d+[^"]*" always;', conf)
    gzip_types = re.search(r"gzip_types ([^;]+);", conf)
    assert gzip_types and "text/event-stream" not in gzip_types.group(1)
    sse = re.search(r"location /api/v1/events/ \{(.*?)\n    \}", conf, flags=re.S)
    assert sse, "no SSE location"
    for directive in ("proxy_buffering off;", "proxy_cache off;", "proxy_read_timeout 1h;", "gzip off;"):
        assert directive in sse.group(1), directive
    assert "proxy_http_version 1.1;" in conf and 'proxy_set_header Connection "";' in conf
    for hook in ("/slack/", "/telegram/"):
        block = re.search(rf"location {hook} \{{(.*?)\n    \}}", conf, flags=re.S)
        assert block, hook
        assert "proxy_pass http://graphgate_api;" in block.group(1)  # no URI part: the path passes as sent
        assert "client_max_body_size" in block.group(1)
        assert "proxy_set_body" not in block.group(1) and "sub_filter" not in block.group(1)
    # proxy headers are set once at server level: a location setting its own would silently drop them
    assert not re.search(r"location[^{]*\{[^}]*proxy_set_header", conf)


def _k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def test_k8s_manifests_validate_against_the_kubernetes_schemas() -> None:
    kinds = set()
    for _name, doc in _k8s_documents():
        kinds.add(doc["kind"])
        if doc["kind"] in ("Kustomization", "ScaledObject"):  # not core Kubernetes kinds: checked below
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert {"Deployment", "Service", "Ingress", "Secret", "ConfigMap", "ScaledObject"} <= kinds


def test_k8s_schema_validation_catches_mistakes() -> None:
    doc = next(d for n, d in _k8s_documents() if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_k8s_roles_probes_secrets_and_autoscaling() -> None:
    docs = _k8s_documents()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for _, doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"]}
    assert {"graphgate-api", "graphgate-worker", "graphgate-dispatcher", "graphgate-scheduler"} <= set(deployments)

    api = deployments["graphgate-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["command"][-1] == "graphgate.cli.compose:create_app()"
    worker = deployments["graphgate-worker"]["spec"]["template"]
    assert worker["spec"]["terminationGracePeriodSeconds"] >= 600  # runs may finish on a rollout

    secret = by_kind["Secret"][0]
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert {
        "GRAPHGATE_JWT_SECRET",
        "GRAPHGATE_SECRET_KEY",
        "GRAPHGATE_SLACK_SIGNING_SECRET",
        "GRAPHGATE_SLACK_BOT_TOKEN",
        "GRAPHGATE_TELEGRAM_BOT_TOKEN",
    } <= keys

    annotations = by_kind["Ingress"][0]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600

    scaled = by_kind["ScaledObject"][0]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "graphgate-worker"
    trigger = scaled["spec"]["triggers"][0]
    prefix = by_kind["ConfigMap"][0]["data"]["GRAPHGATE_KEY_PREFIX"]
    assert trigger["type"] == "redis" and trigger["metadata"]["listName"] == f"{prefix}.runs"
    assert int(trigger["metadata"]["listLength"]) >= 1

    kustomization = by_kind["Kustomization"][0]
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )
