"""Beat's schedule in the database: each periodic task once after a fresh migrate, and back after a flush."""

import os
import subprocess
import sys
import uuid
from collections import Counter

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

# What beat must run, by task: each exactly once on a fresh deploy.
SCHEDULED_TASKS = {
    "billing.tasks.quota_periods_rollover",
    "billing.tasks.webhook_events_requeue",
    "billing.tasks.subscriptions_refresh_lapsed",
    "coach.tasks.daily_stats_refresh",
}


def _server_url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


@pytest.fixture
def fresh_database(db):
    """An empty database on the suite's PostgreSQL server, dropped afterwards."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_a_fresh_migrate_creates_each_schedule_exactly_once(fresh_database):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": fresh_database}
    # given a fresh deploy, migrated and then migrated again by the next deploy
    for _ in range(2):
        result = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=settings.BASE_DIR,
                                env=env, capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute("SELECT name, task, enabled FROM django_celery_beat_periodictask").fetchall()
    # then every periodic task is scheduled once, enabled, and nothing else is
    assert Counter(task for _, task, _ in rows) == Counter(SCHEDULED_TASKS)
    assert len({name for name, _, _ in rows}) == len(rows) and all(enabled for *_, enabled in rows)
    declared = {name for config in apps.get_app_configs() for name in getattr(config, "beat_schedule", {})}
    assert {name for name, _, _ in rows} == declared


@pytest.mark.django_db(transaction=True)
def test_the_schedule_comes_back_after_a_flush():
    # given the database emptied as `manage.py flush` (and every transactional test) leaves it
    call_command("flush", "--noinput", verbosity=0)
    # then beat's schedule is there again, as after migrate
    assert set(PeriodicTask.objects.values_list("task", flat=True)) == SCHEDULED_TASKS
