"""The journal of a workflow run: what its ``wf`` operations returned, step by step.

Each operation is step ``n`` of the run; the first time it runs, its value is stored under
``{invocation}.{run}.{n}`` in the state backend's value namespace ``wf-journal``. When the
body runs again (a retry, a recovered runner, a resume) step ``n`` returns the stored value
instead, after checking it is the same operation. The journal is read ahead
``PREFETCH`` steps at a time: a first run costs one read, then one write per step.

Which run the invocation is in (``continue_as_new`` starts run 2, 3, …) is kept in the
namespace ``wf-run``. A continue marks it begun there before its compare-and-set stores
the new arguments; while it is marked, the status history (whose entry of that
compare-and-set names the run it started) tells a runner that died half way through from
one that finished it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import NonDeterministicWorkflowError, WorkflowStateError

if TYPE_CHECKING:
    from pynenc.records import StatusEntry
    from pynenc.state_backend.base import StateBackend

NS_JOURNAL = "wf-journal"
NS_DATA = "wf-data"
NS_RUN = "wf-run"
#: journal steps read at once
PREFETCH = 32
#: earlier runs remembered in the run info (older ones are only counted)
RUNS_KEPT = 20
#: the newest status-history entries a continue-as-new keeps, besides the first (the
#: registration): each run adds two or more (RUNNING, REGISTERED) to the same invocation,
#: so a workflow that continues for ever keeps the last ~25 runs' entries and no more
HISTORY_KEPT_ON_CONTINUE = 50
RULES = "docs/workflows.md#determinism-rules"
#: the start of the status-history reason of a continue-as-new's compare-and-set (which
#: stores the new arguments), followed by the number of the run it starts
CONTINUE_REASON = "continue-as-new: run "


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON text; :class:`WorkflowStateError` naming ``what`` when it is not."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WorkflowStateError(
            f"{what} must be JSON (dict, list, str, int, float, bool or None, nested): "
            f"{exc}. Store a JSON form instead (e.g. str() of a UUID, isoformat() of a "
            "datetime, a list for a set)."
        ) from None


@dataclass
class RunInfo:
    """What is stored about the runs of a workflow invocation (``wf-run``)."""

    run: int = 1
    #: fingerprint of the arguments of ``run`` (``None``: not recorded yet)
    fp: str | None = None
    #: set while a continue-as-new is half done: the fingerprint of the next run's arguments
    next_fp: str | None = None
    #: the journal step of the pause the run is stopped at (PAUSED), if any
    paused: int | None = None
    #: the last :data:`RUNS_KEPT` runs that ended by continue-as-new
    runs: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> str:
        data: dict[str, Any] = {"run": self.run}
        for name, value in (("fp", self.fp), ("next", self.next_fp), ("paused", self.paused)):
            if value is not None:
                data[name] = value
        if self.runs:
            data["runs"] = self.runs
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> RunInfo | None:
        if text is None:
            return None
        data = json.loads(text)
        return cls(
            int(data["run"]), data.get("fp"), data.get("next"), data.get("paused"),
            list(data.get("runs", ())),
        )  # fmt: skip


def read_run(backend: StateBackend, invocation_id: str) -> RunInfo | None:
    return RunInfo.decode(backend.get_value(NS_RUN, invocation_id))


def write_run(backend: StateBackend, invocation_id: str, info: RunInfo) -> None:
    backend.put_value(NS_RUN, invocation_id, info.encode())


def journal_key(invocation_id: str, run: int, step: int) -> str:
    return f"{invocation_id}.{run}.{step}"


def current_run(
    backend: StateBackend, invocation_id: str, fp: str | None
) -> tuple[int, RunInfo | None]:
    """The run an attempt with arguments of fingerprint ``fp`` belongs to (``None``: not
    checked, dev sync mode), finishing a continue-as-new a dead runner left half done.

    While the run info says a continue was begun (``next_fp``), the status history says
    whether its compare-and-set, which stored the new arguments, went through: its entry
    names the run it started (:data:`CONTINUE_REASON`). The arguments alone cannot tell
    when a continue passed the same ones again (a poller), nor when a runner that no
    longer owned the run wrote the run info back."""
    info = read_run(backend, invocation_id)
    if info is None:
        return 1, None
    if info.next_fp is not None and fp is not None:
        started = continued_to(backend.history(invocation_id))
        if started is None and fp != info.fp and fp == info.next_fp:
            started = info.run + 1  # no history (gone): the new arguments are stored
        if started is not None and started > info.run:
            if fp == info.next_fp:  # an attempt of the new run: it finishes the continue
                info = finish_continue(backend, invocation_id, info, fp, started)
            elif fp != info.fp:  # of a later run still (the run info was written back)
                return started, info
            # else: an attempt of the ended run (its runner was taken over): its own run
    return info.run, info


def continue_reason(run: int) -> str:
    """The history reason of the continue-as-new that starts ``run``."""
    return f"{CONTINUE_REASON}{run}"


def continued_to(history: Sequence[StatusEntry]) -> int | None:
    """The run the newest continue-as-new of ``history`` started (``None``: none)."""
    for entry in reversed(history):
        reason = entry.reason
        if reason is not None and reason.startswith(CONTINUE_REASON):
            number = reason[len(CONTINUE_REASON) :]
            return int(number) if number.isdigit() else None
    return None


def finish_continue(
    backend: StateBackend,
    invocation_id: str,
    info: RunInfo,
    new_fp: str | None,
    new_run: int | None = None,
) -> RunInfo:
    """Start run ``new_run`` (``info.run + 1`` by default): drop the journal and state of
    the run it ends (and of ``info.run``, when a stale writer had put that back), remember
    it in the runs kept, store the new run (whose arguments have fingerprint ``new_fp``)."""
    new_run = info.run + 1 if new_run is None else new_run
    ended = new_run - 1
    drop_run(backend, invocation_id, ended)
    if info.run != ended:
        drop_run(backend, invocation_id, info.run)
    runs = info.runs
    if not runs or runs[-1].get("run", 0) < ended:  # not remembered yet
        runs = [*runs, {"run": ended, "ended": time.time()}][-RUNS_KEPT:]
    new = RunInfo(new_run, new_fp, None, None, runs)
    write_run(backend, invocation_id, new)
    return new


def drop_run(backend: StateBackend, invocation_id: str, run: int) -> int:
    """Delete the journal of ``run`` (its state lives there); how many journal steps were dropped.

    The newest step goes first: a drop cut short (its runner died) leaves the start of the
    journal, which the next drop finds whole (deleting from step 1 up left the newest
    steps behind a gap, where no later drop looked)."""
    present: list[str] = []
    start = 1
    while True:
        keys = [journal_key(invocation_id, run, s) for s in range(start, start + PREFETCH)]
        there = backend.has_values(NS_JOURNAL, keys)
        present.extend(key for key, found in zip(keys, there, strict=True) if found)
        if not all(there):  # steps are recorded in order: the journal ends here
            break
        start += PREFETCH
    dropped = sum(backend.delete_value(NS_JOURNAL, key) for key in reversed(present))
    return dropped


def last_state(steps: list[dict[str, Any]]) -> Any:
    """The state a run's journal ``steps`` saved last (``None``: none saved)."""
    for entry in reversed(steps):
        if entry.get("k") == "save_state":
            return entry.get("v")
    return None


def read_journal(backend: StateBackend, invocation_id: str, run: int) -> list[dict[str, Any]]:
    """Every step recorded for ``run``, in order (for inspection)."""
    steps: list[dict[str, Any]] = []
    start = 1
    while True:
        keys = [journal_key(invocation_id, run, s) for s in range(start, start + PREFETCH)]
        values = backend.get_values(NS_JOURNAL, keys)
        for text in values:
            if text is None:
                return steps
            steps.append(json.loads(text))
        start += PREFETCH


class Journal:
    """The journal of one attempt of a workflow run (steps counted from 1 each attempt)."""

    def __init__(
        self, backend: StateBackend, invocation_id: str, fp: str | None, label: str
    ) -> None:
        self.backend = backend
        self.invocation_id = invocation_id
        self.run, _ = current_run(backend, invocation_id, fp)
        self.label = label  #: "workflow <id> (task <key>)", for errors
        self.step = 0
        self._ahead: dict[int, str | None] = {}
        self._end: int | None = None  #: the first step known not recorded

    def key(self, step: int) -> str:
        return journal_key(self.invocation_id, self.run, step)

    def _recorded(self, step: int) -> str | None:
        if self._end is not None and step >= self._end:
            return None
        if step not in self._ahead:
            steps = range(step, step + PREFETCH)
            values = self.backend.get_values(NS_JOURNAL, [self.key(s) for s in steps])
            self._ahead = dict(zip(steps, values, strict=True))
        text = self._ahead.pop(step)
        if text is None:
            self._end = step
        return text

    def replay(self, kind: str, detail: str | None = None) -> tuple[int, dict[str, Any] | None]:
        """Take the next step for operation ``kind`` (``detail``: what else must match, such
        as the task called); its number and its recorded entry, if it has one.

        :raises NonDeterministicWorkflowError: the step recorded another operation.
        """
        self.step += 1
        text = self._recorded(self.step)
        if text is None:
            return self.step, None
        entry: dict[str, Any] = json.loads(text)
        self.check(entry, kind, detail)
        return self.step, entry

    def record(self, step: int, entry: dict[str, Any]) -> dict[str, Any]:
        """Store ``entry`` as ``step`` unless the step got one meanwhile (another attempt
        of the run that is still going): the entry that stands is returned."""
        text = to_json(entry, f"the value of {entry['k']}")
        if self.backend.put_value(NS_JOURNAL, self.key(step), text, only_if_absent=True):
            return entry
        stored = self.backend.get_value(NS_JOURNAL, self.key(step))
        if stored is None:  # dropped meanwhile: the run was continued without this attempt
            return entry  # (nothing written back: a dropped run's step would stay for ever)
        other: dict[str, Any] = json.loads(stored)
        self.check(other, entry["k"], entry.get("t"))
        return other

    def check(self, entry: dict[str, Any], kind: str, detail: str | None) -> None:
        if entry.get("k") != kind or entry.get("t") != detail:
            raise NonDeterministicWorkflowError(
                f"{self.label}, run {self.run}: step {self.step} was {describe(entry)} when "
                f"the run first got there, but now it is {describe({'k': kind, 't': detail})}. "
                "A workflow body must make the same wf calls in the same order each time it "
                "runs: branch only on its arguments and on what wf operations return (never "
                f"on the clock, random or other outside state). See {RULES}."
            )


def describe(entry: dict[str, Any]) -> str:
    kind = entry.get("k")
    detail = entry.get("t")
    if kind in ("execute_task", "execute_tasks"):
        return f"wf.{kind}({detail}, ...)"
    if kind in ("get_data", "set_data"):
        return f"wf.{kind}({detail!r})"
    return f"wf.{kind}()"
