"""Celery settings in a module (see :mod:`.scan`; beat entries: :mod:`.scan_beat`).

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
from pynenc_celery_compat.migration.catalog import Rating
from pynenc_celery_compat.migration.catalog_app import APP_MEMBERS
from pynenc_celery_compat.migration.scan_beat import Beat
from pynenc_celery_compat.migration.scan_values import Dep, Val

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

_DJANGO_MARKERS = frozenset({"INSTALLED_APPS", "DATABASES", "ROOT_URLCONF", "SECRET_KEY"})
_STRONG = ("broker_", "result_", "task_", "worker_", "beat_")
#: Celery(...) arguments that are settings under another name
_APP_ARGUMENTS = {"broker": "broker_url", "backend": "result_backend", "include": "include"}


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
        self.beat = Beat(scanner)

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
        base = self.s.classify(target.value)
        if key is not None and base is not None and base.kind == "conf":
            self.explicit(node, f"app.conf[{key!r}]", key, value, base.dep)
            return
        shown = repr(key) if key is not None else ast.unparse(target.slice)  # f"x-{k}"
        holder = target.value
        if isinstance(holder, ast.Attribute) and rules.canonical(holder.attr) == "beat_schedule":
            conf = self.s.classify(holder.value)
            if conf is not None and conf.kind == "conf":
                self.beat.entry(shown, node, value, conf.dep)
        elif isinstance(holder, ast.Name) and rules.canonical(holder.id) == "beat_schedule":
            self.beat.add_item(holder.id, shown, node, value)  # SCHEDULE["x"] = {…}

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

    # -- rating -------------------------------------------------------------------------------

    def finish(self, tree: ast.Module) -> None:
        """Rate every setting found, now that the whole module has been read."""
        del tree
        django, config = self._django_like(), self._config_like()
        module_dep: Dep = ("config", self.s.module)
        backend = any(self._names_state_backend(use) for use in self.uses)
        literals = [_literal(use.value, self.s.values) for use in self.uses]
        for use, literal in zip(self.uses, literals, strict=True):
            self._store(use.name, literal)
        for use, literal in zip(self.uses, literals, strict=True):
            dep = use.dep
            if use.source == "module" and not config and not (django and use.written.isupper()):
                dep = module_dep
            if use.name is None:
                rating = rules.NOT_A_SETTING
            else:
                rating = rules.setting(use.name, literal, pynenc_state_backend=backend)
            rating, recheck = self._stores_rating(use.name, literal, rating)
            self.s.emit(use.node, "settings", use.api, rating, dep, recheck=recheck)
            if use.name == "beat_schedule":
                holder = use.written if use.source == "module" else ""
                self.beat.schedule(use.node, use.value, dep, holder)
        self.beat.finish()

    def _names_state_backend(self, use: _Use) -> bool:
        """The ``pynenc`` setting names a state backend: only ``state_backend_url`` spares a
        result backend pynenc has none for (``pynenc_celery_compat.config``)."""
        if use.name != "pynenc":
            return False
        value = _literal(use.value, self.s.values)
        return isinstance(value, dict) and "state_backend_url" in value

    def _store(self, name: str | None, literal: Any) -> None:
        """Where the module says pynenc keeps call states: a broker, a result backend."""
        out = self.s.out
        if name == "broker_url" and isinstance(literal, str):
            out.brokers.add(literal)
        elif name == "result_backend" and (literal is rules.UNREAD or literal):
            out.backend = True  # rpc:// too: its own finding says what it needs
        elif name == "pynenc" and isinstance(literal, dict) and "state_backend_url" in literal:
            out.backend = True

    def _stores_rating(
        self, name: str | None, literal: Any, rating: Rating
    ) -> tuple[Rating, rules.Recheck | None]:
        """A broker or ``rpc://`` result backend is judged with the module's other settings,
        else (set elsewhere) once every module has been read."""
        out = self.s.out
        if name == "broker_url" and isinstance(literal, str) and not out.backend:
            return rating, rules.broker_recheck(literal)
        if name == "result_backend" and rules.is_rpc(literal):
            if out.brokers:
                mine = rules.Stores(frozenset(out.brokers), backend=True)
                return rules.rpc_recheck(mine) or rating, None
            return rating, rules.rpc_recheck
        return rating, None

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
