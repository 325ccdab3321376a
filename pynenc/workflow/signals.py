"""How a workflow body stops its run early: leaf module, control flow only.

``wf.pause()`` and ``wf.continue_as_new()`` raise one of these. They derive from
``BaseException``, as ``SystemExit`` does, so a body's ``except Exception`` does not swallow
them; the runner (or dev sync mode) turns them into a PAUSED status or a new run.
"""

from __future__ import annotations


class WorkflowSignal(BaseException):
    """Base of the signals a workflow body raises to leave its run (never an error)."""


class WorkflowPause(WorkflowSignal):
    """``wf.pause(reason)``: the run stops here, PAUSED, until it is resumed."""

    def __init__(self, reason: str, run: int, step: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.run = run  #: the run that paused
        self.step = step  #: the journal step of the pause, which a resume marks resumed


class ContinueAsNew(WorkflowSignal):
    """``wf.continue_as_new(...)``: this run ends and the workflow starts again with these
    arguments (serialized as a call stores them) and an empty journal."""

    def __init__(self, arguments: dict[str, str], kwargs: dict[str, object], run: int) -> None:
        super().__init__(f"continue as new (run {run + 1})")
        self.arguments = arguments  #: serialized, for a runner
        self.kwargs = kwargs  #: as given, for dev sync mode
        self.run = run  #: the run that ends
