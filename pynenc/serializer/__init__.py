"""Serializers of task arguments, results and exceptions.

``json`` is the default and round-trips common Python values exactly; ``pickle`` and
``cloudpickle`` are opt-in for arbitrary objects from trusted producers. Serializers are chosen
by name through :func:`get_serializer`, and third parties add their own with
:func:`register_serializer` or the ``pynenc.serializers`` entry-point group.
"""

from pynenc.serializer.arguments import (
    deserialize_arguments,
    deserialize_result,
    serialize_arguments,
    serialize_result,
)
from pynenc.serializer.base import (
    Serializer,
    get_serializer,
    register_serializer,
    serializer_names,
)
from pynenc.serializer.exceptions import exception_to_payload, payload_to_exception
from pynenc.serializer.json_serializer import JsonSerializer
from pynenc.serializer.pickle_serializer import CloudpickleSerializer, PickleSerializer

__all__ = [
    # the protocol and the registry
    "Serializer",
    "get_serializer",
    "register_serializer",
    "serializer_names",
    # built-in serializers
    "JsonSerializer",
    "PickleSerializer",
    "CloudpickleSerializer",
    # arguments and results
    "serialize_arguments",
    "deserialize_arguments",
    "serialize_result",
    "deserialize_result",
    # exceptions crossing processes
    "exception_to_payload",
    "payload_to_exception",
]
