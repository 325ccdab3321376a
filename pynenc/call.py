"""A call: one task plus its arguments, serialized once when it has to travel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic

from pynenc.arguments import Arguments
from pynenc.serializer import serialize_arguments
from pynenc.types import Params, Result

if TYPE_CHECKING:
    from pynenc.task import Task


class Call(Generic[Params, Result]):
    """A task and the arguments of one call to it (large ones, as they travel, are
    references to the client data store)."""

    __slots__ = ("_serialized", "arguments", "task")

    def __init__(self, task: Task[Params, Result], arguments: Arguments) -> None:
        self.task = task
        self.arguments = arguments
        self._serialized: dict[str, str] | None = None

    @property
    def serialized_arguments(self) -> dict[str, str]:
        """Each argument encoded by the app's serializer (computed once)."""
        if self._serialized is None:
            app = self.task.app
            encoded = serialize_arguments(
                app.serializer, self.task.task_id.key, self.arguments.kwargs
            )
            self._serialized = app.client_data_store.externalize(encoded)
        return self._serialized

    def __repr__(self) -> str:
        return f"Call({self.task.task_id.key}, {self.arguments!r})"


class PreSerializedCall(Call[Params, Result]):
    """A call whose shared arguments were serialized once for many calls.

    ``parallelize(..., common_args=...)`` encodes the common arguments a single time (and
    stores a large one in the client data store once); each call then only encodes its own
    arguments and merges the shared encodings.
    """

    __slots__ = ("_common",)

    def __init__(
        self,
        task: Task[Params, Result],
        arguments: Arguments,
        pre_serialized: Mapping[str, str],
    ) -> None:
        super().__init__(task, arguments)
        self._common = pre_serialized

    @property
    def serialized_arguments(self) -> dict[str, str]:
        if self._serialized is None:
            own = {k: v for k, v in self.arguments.kwargs.items() if k not in self._common}
            app = self.task.app
            encoded = serialize_arguments(app.serializer, self.task.task_id.key, own)
            self._serialized = {**self._common, **app.client_data_store.externalize(encoded)}
        return self._serialized
