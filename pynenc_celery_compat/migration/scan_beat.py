"""Beat entries in a module (see :mod:`.scan_settings`): ``beat_schedule`` and its Django
and old spellings, ``app.conf.beat_schedule["x"] = …``, ``add_periodic_task(…)``.

A schedule is read where it is written: a dict literal, a module-level name holding one
(with the entries a module adds later, ``SCHEDULE["x"] = {…}``, ``SCHEDULE.update({…})``),
``dict(...)``, ``{**BASE, …}``, or what a module-level function returns. A schedule the
audit cannot read (built from a file, a database, another module) is reported as such,
never passed as supported: a bad entry stops ``pynenc-celery worker`` from starting.
"""

from __future__ import annotations

import ast
import weakref
from typing import TYPE_CHECKING, Any

from pynenc_celery_compat.migration import catalog_settings as rules
from pynenc_celery_compat.migration.catalog import unknown
from pynenc_celery_compat.migration.scan_values import Dep, Val

if TYPE_CHECKING:
    from pynenc_celery_compat.migration.scan import Scanner

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
_MAX_DEPTH = 5

#: an entry of a schedule: (its name as shown, ``'x'`` or an expression; where; the entry)
Added = tuple[str, ast.AST, ast.expr]


def _key(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _name(node: ast.expr) -> str:
    """An entry's name as shown: the string's repr, or the expression (an f-string)."""
    key = _key(node)
    return repr(key) if key is not None else ast.unparse(node)


def _returned(function: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    """What a function returns when it ends in ``return {…}`` or builds a dict in a local
    name and returns it."""
    last = function.body[-1] if function.body else None
    if not isinstance(last, ast.Return) or last.value is None:
        return None
    if not isinstance(last.value, ast.Name):
        return last.value
    local = None
    for statement in function.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == last.value.id for t in statement.targets
        ):
            local = statement.value
    return local


class Beat:
    """The beat entries of one module."""

    def __init__(self, scanner: Scanner) -> None:
        # a weak reference: no cycle keeps a module's tree alive once it has been read
        self.s: Scanner = weakref.proxy(scanner)
        self.solar_calls: list[ast.Call] = []
        self.consumed: set[int] = set()
        #: entries added to a module-level schedule by name
        self.added: dict[str, list[Added]] = {}

    # -- where entries are written ------------------------------------------------------------

    def add_periodic_task(self, call: ast.Call, app: Val) -> None:
        options = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
        schedule = call.args[0] if call.args else options.get("schedule")
        self.s.emit(call, "beat", "app.add_periodic_task()", rules.ADD_PERIODIC, app.dep)
        self.rate_schedule(call, "add_periodic_task", schedule, options, app.dep)
        for name, value in options.items():
            if name not in ("schedule", "sig", "name", "args", "kwargs", "relative"):
                api = f"add_periodic_task({name}=)"
                self.s.emit(value, "beat", api, rules.beat_option(name), app.dep)

    def add_item(self, holder: str, shown: str, at: ast.AST, value: ast.expr) -> None:
        """``SCHEDULE["x"] = {…}`` at module level (``shown``: the key as written)."""
        if not self.s.scopes:
            self.added.setdefault(holder, []).append((shown, at, value))

    def add_update(self, holder: str, call: ast.Call) -> None:
        """``SCHEDULE.update({…})`` or ``SCHEDULE.update(x={…})`` at module level."""
        if not self.s.scopes:
            self._updated(call, self.added.setdefault(holder, []))

    def conf_update(self, call: ast.Call, dep: Dep | None) -> None:
        """``app.conf.beat_schedule.update({…})``, anywhere."""
        found: list[Added] = []
        if not self._updated(call, found):
            api = "beat_schedule.update() (built at run time)"
            self.s.emit(call, "beat", api, rules.UNREAD_SCHEDULE, dep)
        for name, where, entry in found:
            self.entry(name, where, entry, dep)

    def _updated(self, call: ast.Call, found: list[Added]) -> bool:
        readable = True
        for keyword in call.keywords:
            if keyword.arg is not None:
                found.append((repr(keyword.arg), keyword, keyword.value))
        for arg in call.args:
            readable = self._collect(arg, found, 0) and readable
        return readable

    # -- reading a schedule -------------------------------------------------------------------

    def schedule(self, at: ast.AST, node: ast.expr | None, dep: Dep | None, holder: str) -> None:
        """A ``beat_schedule`` value: every entry it holds, and those added to ``holder``
        (the module-level name it was assigned to) later in the module."""
        found: list[Added] = []
        if not self._collect(node, found, 0):
            self.s.emit(at, "beat", "beat_schedule (built at run time)", rules.UNREAD_SCHEDULE, dep)
        for name, where, entry in [*found, *self.added.get(holder, [])]:
            self.entry(name, where, entry, dep)

    def _collect(self, node: ast.expr | None, found: list[Added], depth: int) -> bool:
        """Add the entries of ``node`` to ``found``; ``False`` when part of it cannot be read."""
        if node is None or depth > _MAX_DEPTH:
            return node is None
        if isinstance(node, ast.Name) and node.id in self.s.values:
            return self._collect(self.s.values[node.id], found, depth + 1)
        if isinstance(node, ast.Dict):
            readable = True
            for key_node, value in zip(node.keys, node.values, strict=True):
                if key_node is None:  # {**BASE, …}
                    readable = self._collect(value, found, depth + 1) and readable
                else:
                    found.append((_name(key_node), key_node, value))
            return readable
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
            if node.func.id == "dict":
                found += [
                    (repr(kw.arg), kw, kw.value) for kw in node.keywords if kw.arg is not None
                ]
                return all(kw.arg is not None for kw in node.keywords)
            function = self.s.functions.get(node.func.id)
            if function is not None and not node.keywords:
                return self._collect(_returned(function), found, depth + 1)
        return False

    def entry(self, name: str, at: ast.AST, node: ast.expr, dep: Dep | None) -> None:
        """One ``beat_schedule`` entry (``name`` as shown: ``'nightly'``): its schedule,
        ``relative``, options and arguments."""
        if isinstance(node, ast.Name) and node.id in self.s.values:
            node = self.s.values[node.id]
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
            self.s.emit(at, "beat", f"beat_schedule[{name}]", unknown("beat", "the entry"), dep)
            return
        self.rate_schedule(at, f"beat_schedule[{name}]", fields.get("schedule"), fields, dep)
        options = fields.get("options")
        if isinstance(options, ast.Dict):
            for key_node, value in zip(options.keys, options.values, strict=True):
                key = _key(key_node)
                unset = isinstance(value, ast.Constant) and value.value is None
                if key is not None and key_node is not None and not unset:
                    api = f"beat_schedule[{name}] options {key}="
                    self.s.emit(key_node, "beat", api, rules.beat_option(key), dep)
        for argument in ("args", "kwargs"):
            self.arguments(name, fields.get(argument), dep)

    def rate_schedule(
        self, at: ast.AST, api: str, node: ast.expr | None, fields: dict[str, Any], dep: Dep | None
    ) -> None:
        kind, seconds, what = self.schedule_kind(node)
        imported = self.s.classify(node) if isinstance(node, ast.Name) else None
        recheck = None
        if kind == "other" and imported is not None and imported.kind == "qual":
            recheck = rules.imported_schedule(imported.qual)  # from .const import EVERY
        rating = rules.schedule(kind, what)
        self.s.emit(at, "beat", f"{api}: {what}", rating, dep, recheck=recheck)
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
            api = f"beat_schedule[{entry}] args {name}()"
            if name == "BeatLazyFunc":
                self.s.emit(inner, "beat", api, rules.LAZY, dep)
            elif name in _NOT_JSON:
                self.s.emit(inner, "beat", api, rules.NOT_JSON, dep)

    def module_value(self, qual: str, value: ast.expr) -> None:
        """A module-level name that may hold a schedule another module uses."""
        if isinstance(value, ast.Constant | ast.BinOp | ast.Call):
            consumed = set(self.consumed)  # a solar() here is still reported where it stands
            kind = self.schedule_kind(value)[0]
            self.consumed = consumed
            if kind in ("interval", "crontab", "solar"):
                self.s.out.schedules[qual] = kind

    def finish(self) -> None:
        """``solar()`` made outside a schedule the audit read."""
        for call in self.solar_calls:
            if id(call) not in self.consumed:
                self.s.emit(call, "beat", "solar()", rules.schedule("solar"))
