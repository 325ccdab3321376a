"""Find and load an app by reference (``package.module:attr`` or ``package.module.attr``).

Spawned worker processes import the app again by reference; so does the CLI.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import RunnerError
from pynenc.logs import apply_logging_level

if TYPE_CHECKING:
    from pynenc.app import Pynenc


def load_app(reference: str) -> Pynenc:
    """Import the app named by ``module:attr`` or ``module.attr`` (dots only)."""
    from pynenc.app import Pynenc

    module_name, sep, attr = reference.partition(":")
    if not sep:
        module_name, _, attr = reference.rpartition(".")
    if not module_name or not attr:
        raise RunnerError(
            f"Invalid app reference {reference!r}: use 'package.module:app' or 'package.module.app'"
        )
    module = _import_app_module(module_name)
    app: Any = getattr(module, attr, None)
    if app is None and not hasattr(module, attr):
        found = [
            f"{module_name}:{name}" for name, v in vars(module).items() if isinstance(v, Pynenc)
        ]
        where = f"; Pynenc apps it defines: {', '.join(found)}" if found else ""
        raise RunnerError(f"Module {module_name!r} has no attribute {attr!r}{where}")
    if not isinstance(app, Pynenc):
        raise RunnerError(
            f"{module_name}:{attr} is {type(app).__name__}, not a Pynenc app; point --app at "
            "the variable holding Pynenc()"
        )
    app.reference = f"{module_name}:{attr}"
    return app


def _import_app_module(module_name: str) -> ModuleType:
    """Import the module of an app reference, telling a wrong path from a broken import."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            searched = ", ".join(repr(entry or ".") for entry in sys.path[:6])
            more = f" and {len(sys.path) - 6} more" if len(sys.path) > 6 else ""
            what = "" if missing == module_name else f"its package {missing!r} is not found; "
            raise RunnerError(
                f"No module {module_name!r} ({what}cwd {os.getcwd()!r}, sys.path searched: "
                f"{searched}{more}). Check the --app path, run from the directory "
                "that contains the package, or add it to PYTHONPATH."
            ) from exc
        raise RunnerError(
            f"Module {module_name!r} was found, but its import of {missing!r} failed: "
            f"{missing!r} is not installed in this environment ({sys.executable}). "
            "Install the app's dependencies."
        ) from exc
    except Exception as exc:  # the module exists but raised while importing: name the error
        raise RunnerError(
            f"Module {module_name!r} was found, but importing it raised {type(exc).__name__}: {exc}"
        ) from exc


def app_reference(app: Pynenc) -> str:
    """Where ``app`` can be imported from: its ``reference`` or a module holding it."""
    if app.reference:
        return app.reference
    for name, module in list(sys.modules.items()):
        if name == "__main__" or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is app:
                reference = f"{name}:{attr}"
                app.reference = reference
                return reference
    raise RunnerError(
        f"Cannot find an importable module holding app {app.app_id!r}; worker processes "
        "import it by reference. Define the app at module level in an importable module "
        "(not __main__), or set app.reference = 'package.module:app'."
    )


_FORWARDED = (
    "app_id",
    "broker_url",
    "state_backend_url",
    "serializer",
    "logging_level",
    "task_modules",
    "state_backend_connect_timeout",
    "task_cls",
    "accept_serializers",  # a worker refuses what its parent refuses, and no more
)
_FORWARDED_RUNNER = (
    "heartbeat_interval",
    "dead_after",
    "max_reroutes",
    "redeliver_after",
    "stop_grace",
)
_FORWARDED_BROKER = ("transport_options", "publish_retries")


def app_settings(app: Pynenc) -> dict[str, dict[str, Any]]:
    """The settings a worker process must share with its parent, whatever their source."""
    conf = app.conf
    return {
        "": {name: getattr(conf, name) for name in _FORWARDED},
        "runner": {name: getattr(conf.runner, name) for name in _FORWARDED_RUNNER},
        "broker": {name: getattr(conf.broker, name) for name in _FORWARDED_BROKER},
        "client_data_store": {
            name: getattr(conf.client_data_store, name)
            for name in ("enabled", "min_size", "cache_size")
        },
    }


def load_worker_app(reference: str, settings: dict[str, dict[str, Any]]) -> Pynenc:
    """In a worker process: import the app and apply the parent's settings."""
    app = load_app(reference)
    for section, values in settings.items():
        target = getattr(app.conf, section) if section else app.conf
        target.update(**values)  # together: rules between options see the final values
    apply_logging_level(app.conf)  # the parent's logging_level, with its lines shown here too
    if app.conf.task_modules:  # as the parent did: their tasks and triggers known here too
        from pynenc.runner.execution import import_task_modules

        import_task_modules(app)
    return app
