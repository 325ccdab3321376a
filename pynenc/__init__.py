"""pynenc: distributed task execution on kombu.

Grouped public API; ``tests/unit/test_public_api.py`` checks that ``__all__`` is exact.
"""

from pynenc.app import Pynenc
from pynenc.arguments import Arguments
from pynenc.call_options import TaskWithOptions
from pynenc.cancellation import Cancellation
from pynenc.compose import Chain, ChainRun, Chord, Group, GroupRun, Sig, chain, chord, group
from pynenc.conf import ConcurrencyControlType
from pynenc.exceptions import (
    ConfigError,
    DependencyError,
    InvalidStatusTransitionError,
    InvalidTaskOptionsError,
    InvocationCancelledError,
    InvocationConflictError,
    InvocationExpiredError,
    InvocationNotFoundError,
    InvocationTimeoutError,
    NonDeterministicWorkflowError,
    NotInWorkflowError,
    PublishVetoError,
    PynencError,
    RemoteError,
    RetryError,
    SerializationError,
    SoftTimeoutExceeded,
    TaskDefinitionError,
    TaskNotFoundError,
    TaskTimeoutError,
    WorkflowError,
    WorkflowNotPausedError,
    WorkflowPausedError,
    WorkflowStateError,
)
from pynenc.hooks import Hooks
from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
from pynenc.invocation.distributed import (
    DistributedInvocation,
    DistributedInvocationGroup,
    ReusedInvocation,
)
from pynenc.invocation.sync import SyncInvocation, SyncInvocationGroup
from pynenc.outcome import Outcome
from pynenc.records import InvocationStatus
from pynenc.runner import BackgroundRunner, ThreadRunner
from pynenc.task import Task
from pynenc.trigger import TriggerBuilder, TriggerContext
from pynenc.workflow.identity import WorkflowIdentity
from pynenc.workflow.manager import WorkflowInfo, Workflows
from pynenc.workflow.workflow_context import WorkflowContext

__all__ = [
    # application and tasks
    "Pynenc",
    "Task",
    "TaskWithOptions",
    "Arguments",
    "ConcurrencyControlType",
    # composition
    "Sig",
    "Chain",
    "Group",
    "Chord",
    "chain",
    "group",
    "chord",
    "ChainRun",
    "GroupRun",
    # invocations
    "BaseInvocation",
    "BaseInvocationGroup",
    "DistributedInvocation",
    "DistributedInvocationGroup",
    "ReusedInvocation",
    "SyncInvocation",
    "SyncInvocationGroup",
    "InvocationStatus",
    "Cancellation",
    # runners
    "ThreadRunner",
    "BackgroundRunner",
    # triggers
    "TriggerBuilder",
    "TriggerContext",
    # workflows
    "WorkflowContext",
    "WorkflowIdentity",
    "WorkflowInfo",
    "Workflows",
    # hooks
    "Hooks",
    "Outcome",
    # errors
    "PynencError",
    "ConfigError",
    "InvalidTaskOptionsError",
    "InvalidStatusTransitionError",
    "DependencyError",
    "InvocationNotFoundError",
    "InvocationTimeoutError",
    "PublishVetoError",
    "InvocationExpiredError",
    "InvocationConflictError",
    "InvocationCancelledError",
    "TaskTimeoutError",
    "SoftTimeoutExceeded",
    "RemoteError",
    "RetryError",
    "SerializationError",
    "TaskDefinitionError",
    "TaskNotFoundError",
    "WorkflowError",
    "NotInWorkflowError",
    "NonDeterministicWorkflowError",
    "WorkflowStateError",
    "WorkflowNotPausedError",
    "WorkflowPausedError",
]
