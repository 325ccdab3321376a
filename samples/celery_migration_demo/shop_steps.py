"""What the shop's step scripts share: where each package of the shop is imported from, the
two workers, the views' calls, and which worker ran each task.

The shop exists twice: ``shop_original/`` (all Celery) and ``shop/`` (the end of the
migration), with the same packages at the same paths: ``proj`` (settings and the Celery
app), ``orders`` and ``billing`` (the apps' ``tasks.py``) and ``storefront`` (the views).
A step in between is those two trees mixed package by package, as the deployed code is on
that day: :func:`use_trees` makes ``import orders`` read ``shop/orders`` while ``proj`` and
``billing`` still come from ``shop_original``. Nothing is copied, so the step scripts run
the very files the migration diffs show.

Everything runs in the script's process: a ``memory://`` broker and ``cache+memory://``
results (the settings' defaults), Celery's test worker in threads and a pynenc runner in
threads (``pynenc_celery_compat.contrib.testing.worker.start_worker``, Celery's call).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.abc
import importlib.machinery
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from celery.contrib.testing import worker as celery_testing_worker
from celery.signals import task_prerun

from pynenc_celery_compat.contrib.testing import worker as pynenc_testing_worker

HERE = Path(__file__).resolve().parent
ORIGINAL = HERE / "shop_original"
MIGRATED = HERE / "shop"
PACKAGES = ("proj", "orders", "billing", "storefront")
#: the pynenc runner's name, which its tasks see as ``self.request.hostname`` (Celery's
#: threads pool gives its tasks the bare host name)
PYNENC_WORKER = "pynenc@shop"
WAIT = 30.0
#: what both workers consume, as ``-Q shop,billing`` (``CELERY_TASK_ROUTES`` sends billing's
#: tasks to ``billing``; the others go to ``CELERY_TASK_DEFAULT_QUEUE``, ``shop``)
QUEUES = ["shop", "billing"]


class _Trees(importlib.abc.MetaPathFinder):
    """Finds each top-level package of the shop in the tree chosen for it (its modules
    then follow the package's own ``__path__``)."""

    def __init__(self, trees: dict[str, Path]) -> None:
        self.trees = trees

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        tree = self.trees.get(name)
        if tree is None:
            return None
        return importlib.machinery.PathFinder.find_spec(name, [str(tree)])


def use_trees(**trees: Path) -> None:
    """Import each package of the shop from the tree given for it (``orders=MIGRATED``),
    the others from ``shop_original``. Call it before the shop is imported."""
    unknown = set(trees) - set(PACKAGES)
    if unknown:
        raise ValueError(f"no package {sorted(unknown)} in the shop; it has {PACKAGES}")
    chosen = {name: trees.get(name, ORIGINAL) for name in PACKAGES}
    sys.meta_path.insert(0, _Trees(chosen))


def show_layout(modules: Sequence[ModuleType]) -> None:
    """Each module: the tree it was imported from, and its Celery (or compat) import."""
    for module in modules:
        path = Path(module.__file__ or "")
        tree = path.parents[1].name
        line = next(
            text
            for text in path.read_text().splitlines()
            if text.startswith(("from celery", "from pynenc_celery_compat"))
        )
        print(f"  {tree + '/' + path.parent.name + '/' + path.name:32} {line}")


class Runs:
    """Which worker ran each of the shop's tasks: Celery's ``task_prerun`` signal, which a
    Celery worker and a pynenc runner both send, with the running task's request."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.lock = threading.Condition()
        task_prerun.connect(self.note, weak=False)

    def note(self, sender: Any = None, task: Any = None, **kwargs: Any) -> None:
        if not task.name.startswith(("orders.", "billing.")):
            return  # Celery's own tasks (a chord's unlock)
        request = task.request
        headers = request.headers or {}
        run = {
            "task": task.name,
            "worker": "pynenc" if request.hostname == PYNENC_WORKER else "celery",
            "retries": request.retries or 0,
            # the header beat sets: in the headers on pynenc, on the request on Celery
            "beat": bool(headers.get("celery_beat_task"))
            or bool(getattr(request, "celery_beat_task", False)),
            #: what fired a pynenc trigger: {"name": the entry, "occasion": seconds, ...}
            "trigger": headers.get("pynenc_trigger"),
        }
        with self.lock:
            self.runs.append(run)
            self.lock.notify_all()

    def of(self, task: str) -> list[dict[str, Any]]:
        with self.lock:
            return [run for run in self.runs if run["task"] == task]

    def wait_for(self, task: str, count: int = 1, timeout: float = WAIT) -> list[dict[str, Any]]:
        """The runs of ``task`` once there are ``count``."""
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.of(task)) >= count, timeout):
                raise SystemExit(f"{task} did not run {count} time(s) in {timeout} s")
            return self.of(task)

    def expect(self, **workers: str) -> None:
        """Stop the step unless each app's tasks ran on the worker given (``orders="pynenc"``)."""
        for app_name, worker in workers.items():
            found = {run["worker"] for run in self.of_app(app_name)}
            if found != {worker}:
                raise SystemExit(f"{app_name}'s tasks ran on {sorted(found)}, expected {worker}")

    def of_app(self, app_name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [run for run in self.runs if run["task"].startswith(f"{app_name}.")]

    def show(self) -> None:
        """One line per task: the worker(s) that ran it, its runs and retries."""
        with self.lock:
            runs = list(self.runs)
        print("which worker ran each task:")
        for task in sorted({run["task"] for run in runs}):
            mine = [run for run in runs if run["task"] == task]
            workers = Counter(run["worker"] for run in mine)
            retries = sum(1 for run in mine if run["retries"])
            beat = sum(1 for run in mine if run["beat"])
            notes = [f"{len(mine)} run{'s' if len(mine) > 1 else ''}"]
            if retries:
                notes.append(f"{retries} of them retries")
            if beat:
                notes.append(f"{beat} sent by the beat schedule")
            where = " and ".join(f"on {name}" for name in sorted(workers))
            print(f"  {task:28} {where:10} {', '.join(notes)}")


@contextlib.contextmanager
def celery_worker(app: Any) -> Iterator[None]:
    """Celery's test worker in threads, on both queues.

    While it stops, remote-control pings keep it awake: it looks for the stop flag between
    2-second waits for a message (and waits once more after seeing it), so a stop would take
    2-4 s; a ping is a message, and ends the wait at once."""
    stopped = threading.Event()

    def ping() -> None:
        while not stopped.is_set():
            app.control.ping(timeout=0.05)

    pinger = threading.Thread(target=ping, name="wake-celery-worker", daemon=True)
    start = celery_testing_worker.start_worker
    try:
        with start(
            app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            loglevel="ERROR",
            queues=QUEUES,
        ):
            try:
                yield
            finally:
                pinger.start()
    finally:
        stopped.set()


@contextlib.contextmanager
def pynenc_runner(app: Any) -> Iterator[None]:
    """The same call from ``pynenc_celery_compat``: a pynenc runner in threads, for the
    same Celery app; it runs the tasks of the migrated modules."""
    with pynenc_testing_worker.start_worker(
        app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="ERROR",
        hostname=PYNENC_WORKER,
        queues=QUEUES,
    ):
        yield


#: what the views return, in every step (a step stops when one differs)
EXPECTED: dict[str, Any] = {
    "views.reserve(1, 'mug', 2)": {"sku": "mug", "quantity": 2, "attempts": 1},
    "views.checkout(7, {'mug': 2, 'tee': 1})": {
        "order_id": 7,
        "lines": [
            {"sku": "mug", "quantity": 2, "attempts": 1, "cents": 2500},
            {"sku": "tee", "quantity": 1, "attempts": 2, "cents": 1900},
        ],
        "total_cents": 4400,
        "payment": {"order_id": 7, "cents": 4400, "status": "captured", "attempts": 2},
    },
    "views.invoices_now('manual')": "manual invoices sent",
}


def run_views(views: ModuleType) -> None:
    """Each view's call and its result (``->``), checked against :data:`EXPECTED`."""

    def checkout() -> dict[str, Any]:
        done = views.checkout(7, {"mug": 2, "tee": 1})
        confirmation = dict(done["confirmation"])
        del confirmation["payment_id"]  # a fresh id each run
        return {**confirmation, "payment": done["payment"]}

    calls: dict[str, Callable[[], Any]] = {
        "views.reserve(1, 'mug', 2)": lambda: views.reserve(1, "mug", 2),
        "views.checkout(7, {'mug': 2, 'tee': 1})": checkout,
        "views.invoices_now('manual')": lambda: views.invoices_now("manual"),
    }
    for label, call in calls.items():
        started = time.perf_counter()
        value = call()
        print(f"{label}  ({time.perf_counter() - started:.2f} s)\n  -> {value}")
        if value != EXPECTED[label]:
            raise SystemExit(f"{label} returned {value!r}, expected {EXPECTED[label]!r}")


def cross_app_chain(orders: ModuleType, billing: ModuleType) -> None:
    """A chain of an orders task and a billing task: it runs while both apps run on the
    same system; while they run on two, it is refused before anything is sent (one canvas
    runs on one system: ``MixedCanvasError``, a ``TypeError``)."""
    label = "price_line.s(cap) | charge.si(5, 990)"
    line = {"sku": "cap", "quantity": 1, "attempts": 1}
    canvas = orders.price_line.s(line) | billing.charge.si(5, 990)
    try:
        result = canvas.delay()
    except TypeError as exc:
        name = type(exc).__name__
        print(f"{label}  (a chain across the two apps)\n  refused, nothing sent: {name}")
        return
    value = result.get(timeout=WAIT)
    print(f"{label}  (a chain across the two apps)\n  -> {value}")


def wait_for_trigger_pass(pynenc: Any) -> None:
    """Until a trigger pass has seen every trigger (each has a stored state)."""
    ids = [definition.trigger_id for definition in pynenc.trigger.definitions()]
    deadline = time.monotonic() + WAIT
    while None in pynenc.state_backend.get_values("trigger-state", ids):
        if time.monotonic() > deadline:
            raise SystemExit(f"no trigger pass in {WAIT} s")
        time.sleep(0.01)


def show_fired(run: dict[str, Any], zone: Any) -> None:
    """A run a beat entry's trigger fired: the entry, its occasion and the worker."""
    trigger = run["trigger"] or {}
    occasion = dt.datetime.fromtimestamp(trigger["occasion"], zone)
    print(f"  {trigger['name']} fired {run['task']} for {occasion:%H:%M:%S} on {run['worker']}")
