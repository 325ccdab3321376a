"""The worker: a Celery app's compat tasks served by a pynenc runner.

``pynenc-celery worker`` runs one in the foreground; ``start_worker`` runs one in a
background thread for tests. Either way the worker does what a Celery worker does before it
consumes: the app becomes the current and default app, its task modules are imported
(``include``, ``imports``, ``autodiscover_tasks``: Celery's loader), every compat task is
declared on the app's pynenc app with the triggers of its ``beat_schedule`` (the runners
run the schedule: :mod:`~pynenc_celery_compat.beat_install`), and the ``-P`` pool becomes
a pynenc runner (:mod:`~pynenc_celery_compat.worker.pools`) consuming Celery's queues.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from celery import signals
from celery._state import _set_task_join_will_block
from celery.utils.nodenames import default_nodename, host_format

from pynenc.conf.app_config import LOGGING_LEVELS
from pynenc.exceptions import ConfigError
from pynenc_celery_compat import apps, beat_install, registry, trace
from pynenc_celery_compat.bridge import declare_tasks, pynenc_app_for
from pynenc_celery_compat.worker import events
from pynenc_celery_compat.worker.pools import check_pool, concurrency_of, create_runner, pool_name

if TYPE_CHECKING:
    from pynenc import Pynenc
    from pynenc.runner.base import BaseRunner

logger = logging.getLogger("pynenc_celery_compat.worker")

#: Celery's level names that pynenc spells differently
_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical"}


class Worker:
    """A Celery worker made of a pynenc runner (Celery's ``WorkController`` attributes:
    ``app``, ``hostname``, ``concurrency``, ``pool_cls``, ``queues``, ``reload()``).

    :param app: the Celery app (this package's ``Celery``, or a real ``celery.Celery`` whose
        tasks are compat tasks).
    :param pool: ``prefork`` (``processes``), ``threads`` or ``solo``.
    :param concurrency: task slots (default: the CPU count; ``solo``: 1).
    :param queues: queues to consume (default: ``task_queues``, else ``task_default_queue``).
    :param exclude_queues: queues not to consume.
    :param hostname: node name, ``name@%h`` (default ``celery@<host>``).
    :param loglevel: ``debug``, ``info``, ``warning``, ``error`` or ``critical``.
    :param time_limit: hard limit (s) for tasks without their own (``task_time_limit``).
    :param soft_time_limit: soft limit (s) for tasks without their own.
    :param include: more task modules to import.
    :param app_ref: how worker processes import ``app`` (``proj.celery:app``); without it a
        prefork worker sends them the app itself (its settings, pickled).
    """

    def __init__(
        self,
        app: Any,
        pool: object = "prefork",
        concurrency: int | None = None,
        queues: Iterable[str] | None = None,
        exclude_queues: Iterable[str] | None = None,
        hostname: str | None = None,
        loglevel: str | int | None = None,
        time_limit: float | None = None,
        soft_time_limit: float | None = None,
        include: Iterable[str] = (),
        app_ref: str | None = None,
    ) -> None:
        self.app = app
        self.pool = pool_name(pool)
        self.pool_cls = self.pool  # Celery's attribute name
        self.concurrency = concurrency_of(self.pool, concurrency)
        self.hostname: str = host_format(default_nodename(hostname))
        self.loglevel = level_name(loglevel)
        self.time_limit = time_limit
        self.soft_time_limit = soft_time_limit
        self.include = tuple(include)
        self.app_ref = app_ref
        self.queues = consumed_queues(app, queues, exclude_queues)
        self.runner: BaseRunner | None = None
        #: a test worker (``start_worker``): no ``worker_ready``/``worker_shutdown``, as
        #: Celery's test worker sends neither, and no beat schedule, as it runs no beat
        self.test_worker = False
        #: whether setting up reads the app's ``beat_schedule`` (a bad entry refuses the
        #: start). Not in a prefork worker process: its parent checked it; its runner
        #: installs the schedule when it starts (it may hold the services lease, and the
        #: lease holder runs the trigger pass)
        self.runs_beat = True

    # -- preparing a process ---------------------------------------------------------------

    def setup(self) -> Pynenc:
        """Make this process ready to run the app's tasks (the module docs); its pynenc app."""
        app = self.app
        app.set_current()
        app.set_default()
        if self.time_limit is not None:  # as Celery: the flag wins over the setting
            app.conf.task_time_limit = self.time_limit
        if self.soft_time_limit is not None:
            app.conf.task_soft_time_limit = self.soft_time_limit
        trace.HOSTNAME = self.hostname
        app.loader.import_default_modules()  # include=, imports, autodiscover_tasks()
        for module in self.include:
            app.loader.import_task_module(module)
        pynenc = pynenc_app_for(app)
        if self.loglevel is not None:
            pynenc.conf.logging_level = self.loglevel
        declare_tasks(app, pynenc, afresh=True)  # with the worker's default time limits
        if self.runs_beat and not self.test_worker:  # a bad entry stops the start here
            beat_install.install(app, pynenc)
        return pynenc

    def create_runner(self) -> BaseRunner:
        """Set up this process and build the pool's runner (not started).

        :raises UnsupportedPoolError: ``prefork`` on an in-process broker or backend.
        """
        pynenc = self.setup()
        check_pool(self.pool, pynenc)
        if self.pool == "prefork":  # worker processes import the app through this reference
            pynenc.reference = apps.reference(self.child_spec())
        runner = create_runner(pynenc, self.pool, self.concurrency, list(self.queues))
        setattr(runner, events.WORKER_ATTRIBUTE, self)
        self.runner = runner
        return runner

    def child_spec(self) -> dict[str, Any]:
        """What a prefork worker process needs to set itself up as this worker does."""
        spec: dict[str, Any] = {
            "hostname": self.hostname,
            "loglevel": self.loglevel,
            "time_limit": self.time_limit,
            "soft_time_limit": self.soft_time_limit,
            "include": [*self.include, *task_modules(self.app)],
            "child": True,
        }
        if self.app_ref is not None:
            spec["app"] = self.app_ref
        else:
            spec["pickled_app"] = apps.pickle_app(self.app)
        return spec

    def send_init(self) -> None:
        """``worker_init``: the worker is about to start its pool."""
        events.send(signals.worker_init, sender=self)

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Run in this thread until SIGTERM/SIGINT (twice: at once), as ``celery worker``:
        ``celeryd_init``, ``worker_init``, ``celeryd_after_setup``, then the runner serves."""
        runner = self.runner or self.create_runner()
        conf = self.app.conf
        events.send(
            signals.celeryd_init, sender=self.hostname, instance=self, conf=conf, options={}
        )
        self.send_init()
        # as Celery's pools do: result.get() inside a task raises in a worker
        _set_task_join_will_block(True)
        events.send(signals.celeryd_after_setup, sender=self.hostname, instance=self, conf=conf)
        runner.run()

    def reload(self, modules: Sequence[str] | None = None, reload: bool = False) -> None:
        """Declare on the runner's app the tasks registered since the worker started (Celery's
        ``reload`` re-imports modules; here new tasks are found by name, nothing is
        re-imported)."""
        declare_tasks(self.app, pynenc_app_for(self.app))

    def ensure_started(self) -> None:
        """Celery's test worker API: ``start_worker`` returns a started worker already."""

    def __repr__(self) -> str:
        return f"<Worker {self.hostname} pool={self.pool} concurrency={self.concurrency}>"


def task_modules(app: Any) -> list[str]:
    """The modules defining ``app``'s compat tasks (worker processes import them, as a
    Celery worker adds them to ``include``); functions local to another function have none."""
    modules = {
        task.__inner_function__.__module__
        for task in list(app.tasks.values())
        if registry.made_here(task) and "<locals>" not in task.__inner_function__.__qualname__
    }
    modules.discard("__main__")
    return sorted(modules)


def consumed_queues(
    app: Any, queues: Iterable[str] | None, exclude: Iterable[str] | None
) -> tuple[str, ...]:
    """The queues a worker consumes: ``queues`` (``-Q``), else the app's ``task_queues``,
    else its ``task_default_queue`` (Celery's rule), less ``exclude`` (``-X``).

    :raises ConfigError: nothing is left to consume.
    """
    chosen = [q for q in (queues or ()) if q]
    if not chosen:
        chosen = _configured_queues(app)
    excluded = {q for q in (exclude or ()) if q}
    left = tuple(dict.fromkeys(q for q in chosen if q not in excluded))
    if not left:
        raise ConfigError(
            f"no queue left to consume: {', '.join(chosen)} all excluded by -X/--exclude-queues"
        )
    return left


def _configured_queues(app: Any) -> list[str]:
    declared = app.conf.task_queues
    if declared:
        if isinstance(declared, dict):
            return [str(name) for name in declared]
        return [str(getattr(queue, "name", queue)) for queue in declared]
    return [str(app.conf.task_default_queue or "celery")]


def level_name(level: str | int | None) -> str | None:
    """pynenc's name for Celery's log level ``level`` (``INFO``, ``warn``, ``20``, …).

    :raises ConfigError: not a level.
    """
    if level is None:
        return None
    if isinstance(level, int) or str(level).isdigit():
        name = logging.getLevelName(int(level)).lower()
    else:
        name = str(level).strip().lower()
    name = _LEVEL_ALIASES.get(name, name)
    if name not in LOGGING_LEVELS:
        raise ConfigError(
            f"log level {level!r} is not one of {', '.join(LOGGING_LEVELS)} (any case)"
        )
    return name


def configure_logging(level: str | None, logfile: str | None = None) -> None:
    """Show log lines at ``level`` on stderr (or in ``logfile``): the root logger's level,
    as a Celery worker sets it, with pynenc's line format."""
    from pynenc.logs import FORMAT

    root = logging.getLogger()
    if logfile is not None:
        handler: logging.Handler = logging.FileHandler(logfile)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    elif not root.handlers:
        logging.basicConfig(format=FORMAT)
    if level is not None:
        root.setLevel(level.upper())
