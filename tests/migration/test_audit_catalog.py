"""The audit's catalog is true to the compat layer: what it exports, the options and fields
``docs/celery.md`` documents, the settings table, beat's tables, the signals it sends; and
every guide section it links to exists."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from celery import signals as celery_signals
from celery.app import defaults as celery_defaults

import pynenc_celery_compat
from pynenc_celery_compat import beat
from pynenc_celery_compat import settings as compat_settings
from pynenc_celery_compat.migration import (
    catalog,
    catalog_app,
    catalog_names,
    catalog_results,
    catalog_settings,
)
from pynenc_celery_compat.migration.audit import Support
from pynenc_celery_compat.migration.catalog import Rating
from pynenc_celery_compat.migration.offered import CELERY_TO_COMPAT, offered

ROOT = Path(__file__).parents[2]
DOCS = (ROOT / "docs" / "celery.md").read_text(encoding="utf-8")
GUIDE = ROOT / "migration_guide"
OK, DIFF, NO = Support.SUPPORTED, Support.DIFFERENCE, Support.UNSUPPORTED


def _ratings(value: object) -> Iterator[Rating]:
    if isinstance(value, Rating):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _ratings(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _ratings(item)


def every_rating() -> list[Rating]:
    """The catalog's ratings: its tables, and what its functions give for each app kind
    and for the values that change a setting's rating."""
    modules: list[ModuleType] = [catalog, catalog_app, catalog_names, catalog_results]
    found = [
        rating
        for module in modules
        for value in vars(module).values()
        for rating in _ratings(value)
    ]
    found += list(_ratings(list(vars(catalog_settings).values())))
    for app in (catalog_app.COMPAT_APP, catalog_app.CELERY_APP, catalog_app.UNKNOWN_APP):
        found += [
            catalog_app.app_task(app),
            catalog_app.app_class(app),
            catalog_app.send_task(app),
            catalog_app.register_task(app),
            catalog_app.pynenc_member(app),
        ]
    stores = catalog_settings.Stores(frozenset({"amqp://localhost//"}), backend=False)
    unknown_broker = catalog_settings.Stores(frozenset(), backend=False)
    found += [
        rating
        for rating in (
            catalog_settings.broker_recheck("amqp://localhost//")(stores),
            catalog_settings.rpc_recheck(stores),
            catalog_settings.rpc_recheck(unknown_broker),
        )
        if rating is not None
    ]
    found += [
        catalog_settings.setting("result_backend", "django-db"),
        catalog_settings.setting("result_backend", "django-db", pynenc_state_backend=True),
        catalog_settings.setting("worker_pool", "gevent"),
        catalog_settings.setting("beat_scheduler", "django_celery_beat.schedulers:X"),
        catalog_settings.setting("task_serializer", "msgpack"),
        catalog_settings.setting("accept_content", ["json", "msgpack"]),
        catalog_settings.setting("result_expires", 10),
        catalog_settings.relative(90),
        catalog.retry_option("queue"),
        *(catalog_settings.beat_option(name) for name in ("eta", "ignore_result", "exchange")),
    ]
    return found


# -- true to the compat layer --------------------------------------------------------------


@pytest.mark.parametrize("celery_module", sorted(CELERY_TO_COMPAT))
def test_every_name_the_compat_layer_offers_imports_as_supported(celery_module: str) -> None:
    names = offered(celery_module) - {"Celery"}
    ratings = {name: catalog_names.import_rating(celery_module, name) for name in names}
    assert {name for name, rating in ratings.items() if rating.support is not OK} == set()


def _docs_table(header: str) -> set[str]:
    """The backticked names of the first column of the docs' table under ``header``."""
    lines = DOCS[DOCS.index(header) :].splitlines()[2:]
    names: set[str] = set()
    for line in lines:
        if not line.startswith("|"):
            break
        names |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


def test_every_decorator_option_of_the_docs_is_in_the_catalog() -> None:
    documented = _docs_table("| Option | What pynenc does with it |")
    assert len(documented) > 25
    assert documented - set(catalog.TASK_OPTIONS) == set()


def test_every_calling_option_of_the_docs_is_in_the_catalog() -> None:
    documented = _docs_table("| `apply_async` option | What pynenc does with it |")
    assert len(documented) > 25
    assert documented - set(catalog.CALL_OPTIONS) == set()


def test_every_request_field_of_the_docs_is_in_the_catalog() -> None:
    start = DOCS.index("`self.request` on a pynenc runner has Celery's worker fields")
    paragraph = DOCS[start : DOCS.index("\n\n", start)]
    keys_of_delivery_info = {"exchange", "routing_key", "priority", "redelivered"}
    fields = set(re.findall(r"`([a-z_]+)`", paragraph)) - {"self", "request"}
    fields -= keys_of_delivery_info
    assert {"id", "retries", "delivery_info", "root_id"} <= fields
    assert fields - set(catalog.REQUEST_FIELDS) == set()


def test_every_celery_setting_is_rated() -> None:
    unknown = [
        name
        for name in celery_defaults.SETTING_KEYS
        if catalog_settings.setting(name).reason.startswith("not known")
    ]
    assert unknown == []


def test_settings_follow_the_compat_settings_table() -> None:
    for row in compat_settings.SETTINGS:
        if row.is_family:
            continue
        rating = catalog_settings.setting(row.name)
        different = row.effect == "ignored" or row.name in catalog_settings.DIFFERENT_MEANING
        assert rating.support is (DIFF if different else OK), row.name
        assert row.note in rating.reason


def test_beat_options_follow_beats_tables() -> None:
    for option in beat.REFUSED:
        assert catalog_settings.beat_option(option).support is NO
    for option in beat.IGNORED:
        assert catalog_settings.beat_option(option).support is DIFF
    for option in (*beat.CALL_OPTIONS, *beat.CALL_OPTIONS_TOO):
        assert catalog_settings.beat_option(option).support is OK
    assert catalog_settings.beat_option("made_up").support is NO


def _sent_signals() -> set[str]:
    """The ``celery.signals`` objects the compat layer's code sends itself."""
    sent: set[str] = set()
    for file in Path(pynenc_celery_compat.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "send":
                target = func.value
                if isinstance(target, ast.Attribute):
                    sent.add(target.attr)
                elif isinstance(target, ast.Name):
                    sent.add(target.id)
            for arg in node.args[:1]:
                named = isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                if named and arg.value.id == "signals":  # type: ignore[union-attr]
                    sent.add(arg.attr)  # type: ignore[union-attr]
    return sent


def test_signals_follow_what_the_compat_layer_sends() -> None:
    names = {
        name
        for name, value in vars(celery_signals).items()
        if isinstance(value, celery_signals.Signal)
    }
    ratings = {name: catalog_app.signal(name) for name in names}
    assert [name for name, r in ratings.items() if r.reason.startswith("not known")] == []
    sent = _sent_signals()
    # sent by Celery's own code that runs here: its tracer on the runner, its loader
    by_celery = {"task_prerun", "task_postrun", "task_success", "task_failure", "task_retry"}
    by_celery |= {"import_modules", "test_worker_starting", "test_worker_started"}
    by_celery |= {"test_worker_stopped"}
    never = {name for name, r in ratings.items() if r.support is NO}
    assert never & sent == set()
    assert {name for name, r in ratings.items() if r.support is not NO} <= sent | by_celery


def test_unknown_apis_are_rated_not_supported() -> None:
    assert catalog.call_option("made_up").support is NO
    assert catalog_results.result_member("made_up").support is NO
    assert catalog_app.app_member("made_up")[1].support is NO
    assert catalog_app.signal("made_up").support is NO
    assert catalog_names.import_rating("celery.made_up", "thing").support is NO
    assert catalog_settings.setting("made_up").support is NO


# -- shape of the ratings and links ----------------------------------------------------------


def test_every_rating_has_a_one_line_reason_and_a_known_section() -> None:
    ratings = every_rating()
    assert len(ratings) > 200
    sections = catalog.sections()
    for rating in ratings:
        assert rating.reason and "\n" not in rating.reason, rating
        assert rating.section in sections, rating
        linked = "differences.md#" if rating.support is DIFF else "mapping.md#"
        assert rating.section.startswith("migration_guide/" + linked), rating


def test_every_difference_anchor_is_used() -> None:
    used = {r.section.partition("#")[2] for r in every_rating() if r.support is DIFF}
    assert used == catalog.DIFFERENCE_ANCHORS


def _github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _headings(file: Path) -> set[str]:
    lines = file.read_text(encoding="utf-8").splitlines()
    return {_github_anchor(line.lstrip("#")) for line in lines if line.startswith("#")}


def test_every_linked_section_exists_in_the_guide() -> None:
    missing = []
    for section in sorted(catalog.sections()):
        page, _, anchor = section.removeprefix("migration_guide/").partition("#")
        if anchor not in _headings(GUIDE / page):
            missing.append(section)
    assert missing == []
