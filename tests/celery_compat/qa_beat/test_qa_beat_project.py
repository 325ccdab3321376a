"""The shop on migration day: only the import lines changed; the commands the team runs
(``pynenc-celery -A shop beat`` with the options its old ``celery beat`` had,
``worker``) behave as docs/celery.md says; the Django-style settings reach pynenc."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.celery_compat.qa_beat.conftest import (
    CELERY_PROJECT,
    PYNENC_PROJECT,
    ROOT,
    project_env,
)

pytestmark = pytest.mark.integration

#: the import lines a migration changes, Celery's -> this package's
MIGRATION = {
    "from celery import Celery": "from pynenc_celery_compat import Celery",
    "from celery import current_task": "from pynenc_celery_compat import current_task",
    "from celery import shared_task": "from pynenc_celery_compat import shared_task",
    "from celery.schedules import crontab": "from pynenc_celery_compat.schedules import crontab",
    "from celery.schedules import crontab, schedule": (
        "from pynenc_celery_compat.schedules import crontab, schedule"
    ),
    "from celery.schedules import solar": "from pynenc_celery_compat.schedules import solar",
}


def _lines(path: Path) -> tuple[list[str], set[str]]:
    """The lines of ``path`` but blank ones, and its import lines (apart: a formatter
    sorts them again once their package changes)."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    imports = {line for line in lines if line.startswith(("import ", "from "))}
    return [line for line in lines if line not in imports], imports


def test_the_migration_changed_only_import_lines() -> None:
    originals = sorted(p.relative_to(CELERY_PROJECT) for p in CELERY_PROJECT.rglob("*.py"))
    migrated = sorted(p.relative_to(PYNENC_PROJECT) for p in PYNENC_PROJECT.rglob("*.py"))
    assert originals == migrated and len(originals) >= 10
    changed = 0
    for relative in originals:
        body, imports = _lines(CELERY_PROJECT / relative)
        new_body, new_imports = _lines(PYNENC_PROJECT / relative)
        assert new_body == body, relative
        assert {MIGRATION.get(line, line) for line in imports} == new_imports, relative
        changed += imports != new_imports
    assert changed == 8  # every module that imported from celery


def shop_command(*args: str, settings: str = "shop.settings") -> subprocess.CompletedProcess[str]:
    """``pynenc-celery -A shop ARGS`` in the migrated project."""
    env = project_env(PYNENC_PROJECT, "redis://127.0.0.1:1/0", SHOP_SETTINGS_MODULE=settings)
    return subprocess.run(
        [sys.executable, "-m", "pynenc_celery_compat", "-A", "shop", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_old_beat_command_says_workers_run_the_schedule_and_lists_it() -> None:
    done = shop_command("beat", "-l", "info", "-S", "celery.beat:PersistentScheduler", "-s", "x")
    assert done.returncode == 0, done.stderr
    assert "beat's options do not apply" in done.stderr
    out = done.stdout
    assert "no beat process is needed" in out and "pynenc-celery -A shop worker" in out
    assert "beat_schedule: 11 entries (times in Europe/Madrid):" in out
    for line in [
        "weekday-digest: shop.reports.tasks.send_digest cron '30 7 * * 1-5' with {'period': "
        "'daily', 'recipients': ['ops@example.com']} options {'queue': 'reports', 'expires': "
        "600.0, 'priority': 7}; next ",
        "sync-inventory: shop.inventory.tasks.sync_inventory cron '*/15 8-20 * * *'",
        "weekend-prices: shop.inventory.tasks.check_prices cron '0 9,12,18 * * 0,6'",
        "monthly-invoices: shop.billing.tasks.generate_invoices cron '0 2 1 * *' with "
        "{'dry_run': False} options {'expires': 21600.0}",
        "quarterly-report: shop.reports.tasks.send_digest cron '0 6 1 */3 *'",
        "gateway-heartbeat: shop.billing.tasks.gateway_heartbeat every 30 s",
        "expire-carts: shop.maintenance.tasks.expire_carts every 300 s with {'older_than': "
        "3600} options {'expires': 240.0, 'queue': 'maintenance'}",
        "refresh-rates: shop.billing.tasks.refresh_rates every 45 s with {'currencies': "
        "['EUR', 'USD']}",
        "hourly-stats: shop.reports.tasks.hourly_stats cron '0 * * * *' (relative every 3600 s)",
        "nightly session cleanup: shop.celery.cleanup_sessions cron '0 4 * * *'",
        "shop.celery.ping('shop'): shop.celery.ping every 600 s with {'text': 'shop'} "
        "options {'expires': 60.0}",
    ]:
        assert line in out, line


def test_a_solar_entry_stops_the_worker_and_the_beat_command_naming_it() -> None:
    for command, code in ((["worker", "-P", "threads"], 2), (["beat"], 1)):
        done = shop_command(*command, settings="shop.settings_lights")
        assert done.returncode == code, (command, done.stdout, done.stderr)
        said = done.stderr
        assert "beat entry 'shop-lights-on': solar schedules" in said, said
        assert "not supported by pynenc" in said and "keep this entry on celery beat" in said


def test_the_django_style_settings_reach_pynenc(shop: ModuleType) -> None:
    conf = shop.app.pynenc.conf
    assert conf.timezone == "Europe/Madrid"
    assert set(conf.runner.queues) == {"celery", "reports", "maintenance"}
    assert conf.trigger.missed == "once"  # no beat_cron_starting_deadline
    shop.app.conf.beat_cron_starting_deadline = 120  # CELERY_BEAT_CRON_STARTING_DEADLINE
    try:
        assert (shop.app.pynenc.conf.trigger.missed, shop.app.pynenc.conf.trigger.missed_after) == (
            "skip",
            120,
        )
    finally:
        shop.app.conf.beat_cron_starting_deadline = None


def test_installing_the_schedule_by_hand_imports_the_task_modules_first() -> None:
    """docs/celery.md: a test that wants the schedule calls ``beat_install.install(app,
    app.pynenc)``; with ``autodiscover_tasks`` nothing has imported the tasks modules yet
    in a fresh process."""
    script = (
        "from shop.celery import app\n"
        "from pynenc_celery_compat import beat_install\n"
        "print(len(beat_install.install(app, app.pynenc)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=project_env(PYNENC_PROJECT, "redis://127.0.0.1:1/0"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "11"), done.stderr[-2000:]
