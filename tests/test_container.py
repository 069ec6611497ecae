"""The container files: the image's health check behaves (run here against a live /healthz), the Dockerfile is
multi-stage and unprivileged, and compose.yaml is valid (`docker compose config` where the plugin exists)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def healthcheck_code() -> str:
    line = next(line for line in DOCKERFILE.splitlines() if line.startswith("HEALTHCHECK"))
    command = json.loads(line[line.index("CMD") + 3:].strip())
    assert command[:2] == ["python3", "-c"]
    return command[2]


def run_healthcheck(listen: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MOODTAPE_HTTP_LISTEN"}
    if listen is not None:
        env["MOODTAPE_HTTP_LISTEN"] = listen
    return subprocess.run([sys.executable, "-c", healthcheck_code()], env=env, capture_output=True,
                          timeout=30, check=False).returncode


@pytest.fixture
def healthz() -> Iterator[tuple[int, dict[str, int]]]:
    """A /healthz on 127.0.0.1 whose status the test sets (`state["status"]`)."""
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            code = state["status"] if self.path == "/healthz" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], state
    finally:
        server.shutdown()


def test_the_health_check_follows_healthz(healthz: tuple[int, dict[str, int]]) -> None:
    port, state = healthz
    assert run_healthcheck(f"0.0.0.0:{port}") == 0  # the bots bind 0.0.0.0 in the container
    state["status"] = 503
    assert run_healthcheck(f"127.0.0.1:{port}") != 0  # unhealthy: the database went away, a bot disconnected
    assert run_healthcheck(None) == 0  # a worker or a one-shot command serves no /healthz: nothing to check


def test_the_image_is_built_in_two_stages_and_runs_unprivileged() -> None:
    stages = [line for line in DOCKERFILE.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    final = DOCKERFILE[DOCKERFILE.rindex("\nFROM "):]
    assert "COPY --from=build /opt/venv /opt/venv" in final
    user = [line.split()[1] for line in final.splitlines() if line.startswith("USER ")]
    assert user == ["moodtape"]


def test_compose_runs_bots_workers_and_postgres() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "bots", "worker", "worker-gpu"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector")
    assert all(p.startswith("127.0.0.1:") for p in services["bots"]["ports"])  # /metrics has no authentication
    for name in ("bots", "worker"):
        assert any(v.endswith(":/data") for v in services[name]["volumes"])
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI here")
def test_docker_compose_config_validates(tmp_path: Path) -> None:
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    if version.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin here")
    env = {**os.environ, "POSTGRES_PASSWORD": "test-only"}
    checked = subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"], env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr
