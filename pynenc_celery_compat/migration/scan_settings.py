"""Celery settings and beat entries in a module (see :mod:`.scan`).

Settings are found where Celery reads them: ``app.conf.X = …``, ``app.conf.update(…)``,
``Celery(broker=…, backend=…, include=…)``, dict literals given to ``config_from_object``,
Django's ``override_settings(CELERY_…=…)``; and module-level assignments in settings
modules: ``CELERY_*`` names (Django's namespace) and Celery's old upper-case names in a
module that looks like Django settings (``settings.py``, ``settings/…``, one assigning
``INSTALLED_APPS``…), lower-case Celery names in a ``celeryconfig``-like module. A module
or class that looks like neither still counts when some ``config_from_object`` (or
``DJANGO_SETTINGS_MODULE``) names it: those findings wait for :mod:`.resolve`.
"""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pynenc_celery_compat.migration import catalog_settings as rules
from pynenc_celery_compat.migration.catalog import unknown
from pynenc_celery_compat.migration.catalog_app import APP_MEMBERS
from pynenc_celery_compat.migration.scan_values import Dep, Val

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

_DJANGO_MARKERS = frozenset({"INSTALLED_APPS", "DATABASES", "ROOT_URLCONF", "SECRET_KEY"})
_STRONG = ("broker_", "result_", "task_", "worker_", "beat_")
#: Celery(...) arguments that are settings under another name
_APP_ARGUMENTS = {"broker": "broker_url", "backend": "result_backend", "include": "include"}
_TIMEDELTA = {
    "weeks": 604800.0,
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
    "milliseconds": 0.001,
    "microseconds": 0.000001,
}
_TIMEDELTA_ORDER = ("days", "seconds", "microseconds", "milliseconds", "minutes", "hours")
_NOT_JSON = frozenset({"datetime", "date", "time", "Decimal", "UUID", "timedelta"})


@dataclass
class _Use:
    node: ast.AST
    api: str
    written: str
    name: str | None  #: the lower-case setting, ``None`` when Celery has no such name
    value: ast.expr | None
    dep: Dep | None
    #: "explicit" (Celery reads it for sure), "module" or "class" (if the module or class
    #: is a settings module)
    source: str


def _key(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _shown(written: str, name: str | None) -> str:
    return written if name in (None, written) else f"{written} ({name})"


class Settings:
    """The settings and beat entries of one module, rated when it has been read."""

    def __init__(self, scanner: Scanner) -> None:
        # a weak reference: no cycle keeps a module's tree alive once it has been read
        # (the audit pauses the garbage collector while it reads files)
        self.s: Scanner = weakref.proxy(scanner)
        self.uses: list[_Use] = []
        self.assigned: set[str] = set()
        self.solar_calls: list[ast.Call] = []
        self.consumed: set[int] = set()

    # -- where settings are written -----------------------------------------------------------

    def explicit(
        self, node: ast.AST, api: str, written: str, value: ast.expr | None, dep: Dep | None
    ) -> None:
        name = rules.canonical(written)
        self.uses.append(_Use(node, api, written, name, value, dep, "explicit"))

    def module_level(self, name: str, value: ast.expr, node: ast.stmt) -> None:
        self.assigned.add(name)
        if name.isupper() and (rules.looks_like_celery(name) or rules.canonical(name)):
            canonical = rules.canonical(name)
            self.uses.append(
                _Use(node, _shown(name, canonical), name, canonical, value, None, "module")
            )
        elif name.islower() and rules.is_setting(name):
            self.uses.append(_Use(node, name, name, name, value, None, "module"))

    def class_level(self, owner: str, name: str, value: ast.expr, node: ast.stmt) -> None:
        canonical = rules.canonical(name)
        if canonical is not None:
            api = f"{owner.rpartition('.')[2]}.{_shown(name, canonical)}"
            self.uses.append(_Use(node, api, name, canonical, value, ("config", owner), "class"))

    def attribute(self, target: ast.Attribute, value: ast.expr, node: ast.stmt) -> None:
        """``app.conf.X = …``; ``settings.CELERY_X = …`` (pytest-django's ``settings``)."""
        base = self.s.classify(target.value)
        if base is not None and base.kind == "conf":
            self.explicit(node, f"app.conf.{target.attr}", target.attr, value, base.dep)
        elif (
            isinstance(target.value, ast.Name)
            and target.value.id == "settings"
            and rules.looks_like_celery(target.attr)
        ):
            shown = f"settings.{_shown(target.attr, rules.canonical(target.attr))}"
            self.explicit(node, shown, target.attr, value, None)

    def item(self, target: ast.Subscript, value: ast.expr, node: ast.stmt) -> None:
        """``app.conf["X"] = …``, ``app.conf.beat_schedule["entry"] = {…}``."""
        key = _key(target.slice)
        if key is None:
            return
        base = self.s.classify(target.value)
        if base is not None and base.kind == "conf":
            self.explicit(node, f"app.conf[{key!r}]", key, value, base.dep)
            return
        holder = target.value
        if isinstance(holder, ast.Attribute) and holder.attr in (
            "beat_schedule",
            "CELERY_BEAT_SCHEDULE",
        ):
            conf = self.s.classify(holder.value)
            if conf is not None and conf.kind == "conf":
                self.entry(key, node, value, conf.dep)

    def update(self, call: ast.Call, conf: Val) -> None:
        for keyword in call.keywords:
            if keyword.arg is not None:
                api = f"app.conf.update({keyword.arg}=)"
                self.explicit(keyword, api, keyword.arg, keyword.value, conf.dep)
        for arg in call.args:
            self.mapping(arg, "app.conf.update", conf.dep)

    def mapping(self, node: ast.expr, api: str, dep: Dep | None) -> None:
        """A dict literal of settings (``config_from_object({…})``, ``conf.update({…})``)."""
        if not isinstance(node, ast.Dict):
            return
        for key_node, value in zip(node.keys, node.values, strict=True):
            key = _key(key_node)
            if key is not None and key_node is not None:
                self.explicit(key_node, f"{api}({{{key!r}: …}})", key, value, dep)

    def celery_kwargs(self, call: ast.Call) -> None:
        for keyword in call.keywords:
            arg = keyword.arg
            if arg is None:
                continue
            if arg == "config_source":
                self.mapping(keyword.value, "Celery(config_source=)", None)
            elif arg in _APP_ARGUMENTS or rules.is_setting(arg):
                written = _APP_ARGUMENTS.get(arg, arg)
                self.explicit(keyword, f"Celery({arg}=)", written, keyword.value, None)

    def override(self, call: ast.Call) -> None:
        """Django's ``override_settings(CELERY_TASK_ALWAYS_EAGER=True)``."""
        for keyword in call.keywords:
            if keyword.arg is not None and rules.looks_like_celery(keyword.arg):
                api = f"override_settings({keyword.arg}=)"
                self.explicit(keyword, api, keyword.arg, keyword.value, None)

    def config_from_object(self, call: ast.Call, app: Val) -> None:
        namespace = next((kw.value for kw in call.keywords if kw.arg == "namespace"), None)
        shown = f"namespace={ast.unparse(namespace)}" if namespace is not None else ""
        feature, rating = APP_MEMBERS["config_from_object"]
        self.s.emit(call, feature, f"app.config_from_object({shown})", rating, app.dep)
        source = call.args[0] if call.args else None
        source = source or next((kw.value for kw in call.keywords if kw.arg == "obj"), None)
        target = _key(source)
        if target is not None:
            self.s.out.config_targets.add(target.replace(":", "."))
        elif isinstance(source, ast.Name):
            found = self.s.classify(source)
            self.s.out.config_targets.add(
                found.qual if found is not None and found.kind == "qual" else source.id
            )
        elif source is not None:
            self.mapping(source, "app.config_from_object", app.dep)

    # -- beat ---------------------------------------------------------------------------------

    def add_periodic_task(self, call: ast.Call, app: Val) -> None:
        options = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
        schedule = call.args[0] if call.args else options.get("schedule")
        self.s.emit(call, "beat", "app.add_periodic_task()", rules.ADD_PERIODIC, app.dep)
        self.rate_schedule(call, "add_periodic_task", schedule, options, app.dep)
        for name, value in options.items():
            if name not in ("schedule", "sig", "name", "args", "kwargs", "relative"):
                api = f"add_periodic_task({name}=)"
                self.s.emit(value, "beat", api, rules.beat_option(name), app.dep)

    def entries(self, node: ast.expr | None, dep: Dep | None) -> None:
        if isinstance(node, ast.Name) and node.id in self.s.values:
            node = self.s.values[node.id]
        if not isinstance(node, ast.Dict):
            return
        for key_node, value in zip(node.keys, node.values, strict=True):
            key = _key(key_node)
            if key is not None and key_node is not None:
                self.entry(key, key_node, value, dep)

    def entry(self, name: str, at: ast.AST, node: ast.expr, dep: Dep | None) -> None:
        """One ``beat_schedule`` entry: its schedule, ``relative``, options and arguments."""
        fields: dict[str, ast.expr] = {}
        if isinstance(node, ast.Dict):
            keys = (_key(key) for key in node.keys)
            fields = {key: value for key, value in zip(keys, node.values, strict=True) if key}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
        ):
            fields = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        else:
            self.s.emit(at, "beat", f"beat_schedule[{name!r}]", unknown("beat", "the entry"), dep)
            return
        self.rate_schedule(at, f"beat_schedule[{name!r}]", fields.get("schedule"), fields, dep)
        options = fields.get("options")
        if isinstance(options, ast.Dict):
            for key_node, value in zip(options.keys, options.values, strict=True):
                key = _key(key_node)
                unset = isinstance(value, ast.Constant) and value.value is None
                if key is not None and key_node is not None and not unset:
                    api = f"beat_schedule[{name!r}] options {key}="
                    self.s.emit(key_node, "beat", api, rules.beat_option(key), dep)
        for argument in ("args", "kwargs"):
            self.arguments(name, fields.get(argument), dep)

    def rate_schedule(
        self, at: ast.AST, api: str, node: ast.expr | None, fields: dict[str, Any], dep: Dep | None
    ) -> None:
        kind, seconds, what = self.schedule_kind(node)
        self.s.emit(at, "beat", f"{api}: {what}", rules.schedule(kind, what), dep)
        relative = fields.get("relative")
        if isinstance(relative, ast.Constant) and relative.value is True:
            self.s.emit(relative, "beat", f"{api} relative=True", rules.relative(seconds), dep)

    def schedule_kind(self, node: ast.expr | None, depth: int = 0) -> tuple[str, float | None, str]:
        """``(kind, seconds of an interval, how it reads)`` of a schedule expression."""
        if node is None:
            return "missing", None, "no schedule"
        if isinstance(node, ast.Name) and node.id in self.s.values and depth < 3:
            return self.schedule_kind(self.s.values[node.id], depth + 1)
        seconds = self.seconds(node)
        if seconds is not None:
            return "interval", seconds, ast.unparse(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return "string", None, repr(node.value)
        shown = ast.unparse(node) if not isinstance(node, ast.Call) else ast.unparse(node.func)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        if isinstance(node, ast.Call):
            val = self.s.classify(node.func)
            if val is not None and val.kind == "schedule":
                name = val.qual.rpartition(".")[2]
                if name == "solar":
                    self.consumed.add(id(node))
                    return "solar", None, "solar()"
                if name in ("crontab", "from_string"):
                    return "crontab", None, f"{shown}()"
        return "other", None, f"{shown}()" if isinstance(node, ast.Call) else shown

    def seconds(self, node: ast.expr) -> float | None:
        """The seconds of an interval: a number, arithmetic on numbers, ``timedelta(…)``,
        ``schedule(run_every=…)``; ``None`` when it is none of those."""
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return None if isinstance(node.value, bool) else float(node.value)
        if isinstance(node, ast.Name) and isinstance(self.s.values.get(node.id), ast.Constant):
            return self.seconds(self.s.values[node.id])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Add | ast.Sub):
            left, right = self.seconds(node.left), self.seconds(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Mult):
                return left * right
            return left + right if isinstance(node.op, ast.Add) else left - right
        if not isinstance(node, ast.Call):
            return None
        val = self.s.classify(node.func)
        qual = val.qual if val is not None else ""
        if qual.endswith("timedelta") and qual.startswith("datetime"):
            return self._timedelta(node)
        if val is not None and val.kind == "schedule" and qual.endswith(".schedule"):
            every = node.args[0] if node.args else None
            every = every or next((kw.value for kw in node.keywords if kw.arg == "run_every"), None)
            return self.seconds(every) if every is not None else None
        return None

    def _timedelta(self, node: ast.Call) -> float | None:
        parts = list(zip(_TIMEDELTA_ORDER, node.args, strict=False))
        parts += [(kw.arg, kw.value) for kw in node.keywords if kw.arg in _TIMEDELTA]
        total = 0.0
        for unit, value in parts:
            amount = self.seconds(value)
            if amount is None:
                return None
            total += amount * _TIMEDELTA[unit]
        return total

    def arguments(self, entry: str, node: ast.expr | None, dep: Dep | None) -> None:
        """Values of an entry's ``args``/``kwargs`` a trigger cannot store (JSON only)."""
        for inner in ast.walk(node) if node is not None else ():
            if not isinstance(inner, ast.Call):
                continue
            name = ast.unparse(inner.func).rpartition(".")[2]
            api = f"beat_schedule[{entry!r}] args {name}()"
            if name == "BeatLazyFunc":
                self.s.emit(inner, "beat", api, rules.LAZY, dep)
            elif name in _NOT_JSON:
                self.s.emit(inner, "beat", api, rules.NOT_JSON, dep)

    # -- rating -------------------------------------------------------------------------------

    def finish(self, tree: ast.Module) -> None:
        """Rate every setting found, now that the whole module has been read."""
        del tree
        django, config = self._django_like(), self._config_like()
        module_dep: Dep = ("config", self.s.module)
        backend = any(self._names_state_backend(use) for use in self.uses)
        for use in self.uses:
            dep = use.dep
            if use.source == "module" and not config and not (django and use.written.isupper()):
                dep = module_dep
            literal = _literal(use.value, self.s.values)
            if use.name is None:
                rating = unknown("settings", f"setting {use.written}")
            else:
                rating = rules.setting(use.name, literal, pynenc_state_backend=backend)
            self.s.emit(use.node, "settings", use.api, rating, dep)
            if use.name == "beat_schedule":
                self.entries(use.value, dep)
        for call in self.solar_calls:
            if id(call) not in self.consumed:
                self.s.emit(call, "beat", "solar()", rules.schedule("solar"))

    def _names_state_backend(self, use: _Use) -> bool:
        if use.name != "pynenc" or not isinstance(use.value, ast.Dict):
            return False
        return any(_key(key) in ("state_backend_url", "state_backend") for key in use.value.keys)

    def _django_like(self) -> bool:
        path = PurePath(self.s.out.path)
        stem, folder = path.stem, path.parent.name
        named = stem.startswith("settings") or stem.endswith("settings") or folder == "settings"
        return named or bool(self.assigned & _DJANGO_MARKERS)

    def _config_like(self) -> bool:
        stem = PurePath(self.s.out.path).stem.lower()
        if "celery" in stem and any(word in stem for word in ("conf", "config", "settings")):
            return True
        strong = {use.written for use in self.uses if use.source == "module"}
        return sum(1 for name in strong if name.startswith(_STRONG)) >= 2


def _literal(node: ast.expr | None, values: dict[str, ast.expr]) -> Any:
    if node is None:
        return rules.UNREAD
    if isinstance(node, ast.Name) and node.id in values:
        node = values[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return rules.UNREAD


__all__ = ["Settings"]
