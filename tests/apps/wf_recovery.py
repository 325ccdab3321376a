"""Workflow tasks for the recovery tests (``tests/integration/test_workflow_recovery.py``):
runner processes import them, and what they do is written to files in a folder the test
names, so that attempts in different processes (one of them killed) can be compared.

Each workflow records what its ``wf`` calls returned (one JSON file per attempt), then
waits at a gate — until the file ``<folder>/go`` exists — so the test can kill its runner
at a known point; a child counts its runs in ``<folder>/children`` (one line per run: its
invocation id), which a killed runner cannot forget.

A runner can also be killed at the worst moment of a child call — registered and published,
not yet in the journal — by :func:`_die_after_publishing`: armed by the file
``<folder>/die-armed``, in a runner process started with ``WF_RECOVERY_KILLABLE=1``.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from pynenc import Pynenc

app = Pynenc(app_id="tests-wf-recovery")

#: environment variable that lets a runner process kill itself (never the test process)
KILLABLE = "WF_RECOVERY_KILLABLE"
#: Longest wait at the gate: the test opens it within seconds; this only ends a stray attempt.
GATE_TIMEOUT = 300.0


def _append(path: Path, line: str) -> None:
    """One line appended in one write (O_APPEND): lines of processes never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _attempt(folder: Path, stage: str, seen: dict[str, Any]) -> str:
    """What one attempt saw at ``stage``, in a file of its own (its name)."""
    name = f"{stage}-{os.getpid()}-{uuid.uuid4().hex}.json"  # not wf.uuid(): per attempt
    (folder / f".{name}").write_text(json.dumps(seen))
    (folder / f".{name}").rename(folder / name)  # seen whole, or not at all
    return name


def _gate(folder: Path, name: str = "go") -> None:
    deadline = time.monotonic() + GATE_TIMEOUT
    while not (folder / name).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody opened the gate {folder / name}")
        time.sleep(0.05)


@app.hooks.on_after_publish
def _die_after_publishing(invocations: Any) -> None:
    """Kill this runner (its whole process group: a ProcessRunner's parent too) once a
    child of an armed folder is published, before its caller records it in its journal."""
    if os.environ.get(KILLABLE) != "1":
        return
    for invocation in invocations:
        folder = invocation.arguments.kwargs.get("folder")
        if invocation.task.task_id != child.task_id or folder is None:
            continue
        try:  # only the first call dies: the recovered attempt finds the gun fired
            os.rename(Path(folder) / "die-armed", Path(folder) / "die-fired")
        except FileNotFoundError:
            continue
        os.killpg(os.getpgid(0), signal.SIGKILL)


@app.task
def child(folder: str, n: int) -> int:
    """Counts its run durably (its invocation id, a line), then returns ``n * 10``."""
    _append(Path(folder) / "children", child.invocation.invocation_id)
    return n * 10


@app.task
def durable(folder: str) -> dict[str, Any]:
    """Deterministic values and children before the gate, more of both after it."""
    wf = durable.wf
    here = Path(folder)
    seen: dict[str, Any] = {"random": wf.random(), "uuid": wf.uuid()}
    seen["now"] = wf.utc_now().isoformat()
    one = wf.execute_task(child, folder, 1)
    many = wf.execute_tasks(child, [(folder, 2), (folder, 3)])
    seen["children"] = [one.invocation_id, *(i.invocation_id for i in many)]
    seen["results"] = [one.result, *(i.result for i in many)]
    _attempt(here, "before", seen)
    _gate(here)
    last = wf.execute_task(child, folder, 4)
    seen["after"] = {"random": wf.random(), "child": last.invocation_id, "result": last.result}
    _attempt(here, "after", seen)
    return seen


@app.task
def counter(folder: str) -> dict[str, Any]:
    """Saves an incremented state, then waits at the gate; after it, reads the state again
    (a fresh read on the attempt that recovered it: what was saved, kept)."""
    wf = counter.wf
    here = Path(folder)
    state = wf.get_state({"n": 0})
    state["n"] += 1
    wf.save_state(state)
    saved = wf.get_state()
    _attempt(here, "before", {"state": state, "saved": saved})
    _gate(here)
    after = wf.get_state()
    _attempt(here, "after", {"state": state, "saved": saved, "after": after})
    return {"state": state, "saved": saved, "after": after}


@app.task
def dies_calling(folder: str) -> dict[str, Any]:
    """A value, then a child whose call kills the runner (when armed) before it is
    recorded, then another child."""
    wf = dies_calling.wf
    seen: dict[str, Any] = {"uuid": wf.uuid()}
    _attempt(Path(folder), "before", seen)
    first = wf.execute_task(child, folder, 5)
    second = wf.execute_task(child, folder, 6)
    seen["children"] = [first.invocation_id, second.invocation_id]
    seen["results"] = [first.result, second.result]
    return seen


@app.task
def loops(folder: str, run: int, last: int) -> int:
    """Waits at the gate ``go<run>``, then continues as new (run + 1) until ``last``."""
    wf = loops.wf
    here = Path(folder)
    _attempt(here, f"run{run}", {"run": wf.identity.run})
    _gate(here, f"go{run}")
    if run < last:
        wf.continue_as_new(folder, run + 1, last)
    return run


@app.task
def continues_once(folder: str, run: int) -> int:
    """Run 1 continues as new, run 2 returns; each attempt waits at a gate of its own
    (``go-<its file>``), so the test can let a stale attempt go on after a newer one."""
    wf = continues_once.wf
    here = Path(folder)
    name = _attempt(here, f"run{run}", {"run": wf.identity.run})
    _gate(here, f"go-{name}")
    if run == 1:
        wf.continue_as_new(folder, 2)
    return wf.identity.run
