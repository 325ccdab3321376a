"""The core seams of the Celery layer, piece by piece: per-call headers (checked, copied,
carried by envelopes and records), the root of a call tree, the error classes a Task
subclass chooses, a task's own serializer and the accept list."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from pynenc import InvocationCancelledError, Pynenc, SoftTimeoutExceeded, TaskTimeoutError
from pynenc.attempt import Attempt
from pynenc.broker.envelope import Envelope, MalformedEnvelopeError, decode_message
from pynenc.call_options import CallOptions
from pynenc.cancellation import cancelled_error
from pynenc.conf import AppConfig
from pynenc.error_classes import build_error
from pynenc.exceptions import ConfigError, SerializationError, TaskDefinitionError
from pynenc.records import (
    InvocationRecord,
    Links,
    decode_meta,
    encode_links,
    encode_meta,
    root_of,
    stored_root,
)
from pynenc.serializer import exception_to_payload, payload_to_exception
from pynenc.task import Task
from pynenc.testing import sync_mode
from tests.apps import seams

# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        (["a"], TypeError, "headers must be a dict"),
        ({1: "a"}, TypeError, "header names must be strings, got 1"),
        ({"f": object()}, TypeError, "JSON values only"),
        ({"f": math.nan}, ValueError, "JSON values only"),
        ({"f": {1, 2}}, TypeError, "JSON values only"),
    ],
)
def test_bad_headers_are_refused_naming_the_option(
    headers: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CallOptions(headers=headers)


def test_headers_are_a_json_copy_and_empty_ones_are_none() -> None:
    given = {"a": (1, 2), "b": {"c": None}}
    options = CallOptions(headers=given)
    given["b"]["c"] = "changed later"  # type: ignore[index]
    assert options.headers == {"a": [1, 2], "b": {"c": None}}
    assert CallOptions(headers={}).headers is None
    assert CallOptions().headers is None


def test_the_envelope_carries_headers_and_root_only_when_set() -> None:
    plain = Envelope("i", "m.t", {"x": "1"}, "json", parent_id="p")
    body = json.loads(plain.encode())
    assert "headers" not in body and "root" not in body
    assert decode_message(plain.encode()) == [plain]
    full = Envelope("i", "m.t", {"x": "1"}, "pickle", headers={"h": [1]}, root_id="r")
    body = json.loads(full.encode())
    assert (body["headers"], body["root"], body["ser"]) == ({"h": [1]}, "r", "pickle")
    assert decode_message(full.encode()) == [full]
    assert plain.batch_key != full.batch_key


@pytest.mark.parametrize(("field", "value"), [("headers", [1]), ("root", 5)])
def test_a_damaged_header_or_root_field_is_refused(field: str, value: Any) -> None:
    body = json.loads(Envelope("i", "m.t", {}, "json").encode())
    body[field] = value
    with pytest.raises(MalformedEnvelopeError, match=field):
        decode_message(json.dumps(body))


def test_record_meta_is_stored_only_when_set() -> None:
    plain = InvocationRecord("i", "m.t", {})
    assert encode_meta(plain) is None and decode_meta(None) == {}
    full = InvocationRecord("i", "m.t", {}, serializer="pickle", headers={"a": 1}, root_id="r")
    text = encode_meta(full)
    assert text is not None
    assert decode_meta(text) == {"serializer": "pickle", "headers": {"a": 1}, "root_id": "r"}


def test_record_links_are_stored_apart_from_the_meta() -> None:
    """The links have a text of their own (a step's ``then`` names every member of a group
    after it: whoever reads its result must not read them); links an older pynenc kept
    inside the meta are still read from there."""
    links = Links(after=("a",), then=("b", "c"))
    linked = InvocationRecord("i", "m.t", {}, links=links)
    assert encode_meta(linked) is None and encode_links(InvocationRecord("i", "m.t", {})) is None
    text = encode_links(linked)
    assert text is not None and decode_meta(None, text) == {"links": links}
    older = json.dumps({"ser": "pickle", "links": links.encode()})
    assert decode_meta(older) == {
        "serializer": "pickle",
        "headers": None,
        "root_id": None,
        "links": links,
    }


def test_root_of_a_call_tree() -> None:
    assert root_of("i", None, None) == "i"  # top level
    assert root_of("i", "p", None) == "p"  # a child of the root stores none
    assert root_of("i", "p", "r") == "r"
    assert stored_root("p", "p") is None
    assert stored_root("r", "p") == "r"


# -- dev sync mode ---------------------------------------------------------------------------


def test_sync_mode_knows_headers_parents_and_roots() -> None:
    with sync_mode(seams.app):
        call = seams.describe.with_options(headers={"k": "v"})()
        view = call.result
        assert view == {
            "id": call.invocation_id,
            "parent": None,
            "root": call.invocation_id,
            "headers": {"k": "v"},
        }
        assert call.headers == {"k": "v"}
        top = seams.nest(1)
        levels = top.result
        assert [level["root"] for level in levels] == [top.invocation_id] * 3
        assert [level["parent"] for level in levels] == [None] + [lv["id"] for lv in levels[:-1]]
        assert levels[-1]["headers"] == {"level": "leaf"}


# -- error classes ---------------------------------------------------------------------------


class Plain(Exception):
    pass


class Slotted(Exception):
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)


class OwnSoft(SoftTimeoutExceeded):
    pass


def test_build_error_follows_the_constructor_contract() -> None:
    default = build_error(SoftTimeoutExceeded, SoftTimeoutExceeded, "m", (2.0,), {"limit": 2.0})
    assert type(default) is SoftTimeoutExceeded and default.args == ("m", 2.0)
    sub = build_error(OwnSoft, SoftTimeoutExceeded, "m", (2.0,), {"limit": 2.0})
    assert type(sub) is OwnSoft and sub.limit == 2.0  # type: ignore[attr-defined]
    plain = build_error(Plain, SoftTimeoutExceeded, "m", (2.0,), {"limit": 2.0})
    assert type(plain) is Plain and plain.args == ("m",) and plain.limit == 2.0  # type: ignore[attr-defined]
    slotted = build_error(Slotted, SoftTimeoutExceeded, "m", (2.0,), {"limit": 2.0})
    assert type(slotted) is Slotted and not hasattr(slotted, "limit")


class CeleryAndPynencRevoked(seams.TaskRevokedError, InvocationCancelledError):  # type: ignore[misc]
    """Both bases, handing the arguments to Celery's constructor (as a layer may)."""

    def __init__(self, message: str = "", *args: object) -> None:
        seams.TaskRevokedError.__init__(self, message, *args)


def test_a_subclass_of_both_gets_the_attributes_its_constructor_skipped() -> None:
    error = cancelled_error("inv-1", "m.t", "me", 12.5, "why", CeleryAndPynencRevoked)
    assert isinstance(error, seams.TaskRevokedError)
    assert (error.cancelled_by, error.reason, error.invocation_id) == ("me", "why", "inv-1")  # type: ignore[attr-defined]
    again = payload_to_exception(exception_to_payload(error))
    assert type(again) is CeleryAndPynencRevoked and again.reason == "why"  # type: ignore[attr-defined]


def test_a_foreign_error_crosses_processes_with_its_attributes() -> None:
    error = cancelled_error("inv-1", "m.t", "me", 12.5, "why", seams.Revoked)
    again = payload_to_exception(exception_to_payload(error))
    assert type(again) is seams.Revoked
    assert (again.cancelled_by, again.reason, again.invocation_id) == ("me", "why", "inv-1")  # type: ignore[attr-defined]
    default = cancelled_error("inv-1", "m.t", "me", 12.5, "why")
    assert type(default) is InvocationCancelledError and default.reason == "why"  # type: ignore[attr-defined]


def test_the_attempt_raises_the_soft_error_it_was_given() -> None:
    attempt = Attempt("i", "m.t", soft_timeout=1.0, soft_error=seams.SoftLimit)
    error = attempt.soft_exceeded()
    assert type(error) is seams.SoftLimit and error.limit == 1.0  # type: ignore[attr-defined]
    assert "soft time limit of 1 s" in str(error)
    assert type(Attempt("i", "m.t", soft_timeout=1.0).soft_exceeded()) is SoftTimeoutExceeded


def test_pynencs_classes_are_the_defaults() -> None:
    assert Task.soft_timeout_error is SoftTimeoutExceeded
    assert Task.timeout_error is TaskTimeoutError
    assert Task.cancelled_error is InvocationCancelledError
    assert seams.cancellable.timeout_error is seams.HardLimit


@pytest.mark.parametrize("name", ["soft_timeout_error", "timeout_error", "cancelled_error"])
def test_an_error_class_attribute_must_be_an_exception_class(name: str) -> None:
    with pytest.raises(TaskDefinitionError, match=f"{name} must be an Exception subclass"):
        type("BadTask", (Task,), {name: "not a class"})
    with pytest.raises(TaskDefinitionError, match=name):
        type("BadTask", (Task,), {name: BaseException})


def test_cancelling_inside_a_sync_task_raises_the_task_classes_error() -> None:
    with sync_mode(seams.app):
        invocation = seams.cancels_itself()
        with pytest.raises(seams.Revoked, match="enough"):
            invocation.result


# -- a task's serializer and the accept list ------------------------------------------------


def test_accept_serializers_is_parsed_and_deduplicated(tmp_path: Any) -> None:
    conf = AppConfig(environ={"PYNENC__ACCEPT_SERIALIZERS": "Pickle, json,pickle"}, cwd=tmp_path)
    assert conf.accept_serializers == ("pickle", "json")
    conf = AppConfig(environ={"PYNENC__TASK__SERIALIZER": "null"}, cwd=tmp_path)
    assert conf.task_config("m.t", {}).serializer is None
    assert conf.task_config("m.t", {"serializer": "CloudPickle"}).serializer == "cloudpickle"


def test_a_task_serializer_is_checked_at_each_call_against_the_accept_list() -> None:
    app = Pynenc(app_id="tests-unit-accept")
    task = app.create_task(seams.swallow.func, {"serializer": "pickle"})
    with pytest.raises(ConfigError) as raised:
        _ = task.serializer
    message = str(raised.value)
    assert "'tests.apps.seams.swallow' (task option serializer)" in message
    assert "PYNENC__ACCEPT_SERIALIZERS=pickle" in message and "trusted" in message
    app.conf.accept_serializers = ["pickle"]
    assert task.serializer.name == "pickle"
    plain = app.create_task(seams.add.func, {})
    assert plain.serializer is app.serializer  # no option: the app's, unchecked
    named = app.create_task(seams.describe.func, {"serializer": "json"})
    assert named.serializer is app.serializer  # the app's own name: always accepted
    unknown = app.create_task(seams.nest.func, {"serializer": "nope"})
    app.conf.accept_serializers = ["nope"]
    with pytest.raises(ConfigError, match=r"option serializer .*Unknown serializer 'nope'"):
        _ = unknown.serializer


def test_decoding_refuses_what_the_app_does_not_accept() -> None:
    app = Pynenc(app_id="tests-unit-accept-decode")
    assert app.serializer_for(None) is app.serializer
    assert app.serializer_for("json") is app.serializer
    with pytest.raises(SerializationError, match="accept_serializers"):
        app.serializer_for("pickle")
    app.conf.accept_serializers = ["pickle"]
    assert app.serializer_for("pickle").name == "pickle"


def test_copy_record_copies_every_field() -> None:
    """The memory backend's copy names each field: one added later must be named too."""
    from dataclasses import fields

    from pynenc.records import InvocationStatus, copy_record

    values: dict[str, Any] = {}
    for index, field in enumerate(fields(InvocationRecord)):
        values[field.name] = f"value-{index}"
    values["status"] = InvocationStatus.RUNNING
    record = InvocationRecord(**values)
    copy = copy_record(record)
    assert copy == record and copy is not record


def test_worker_processes_get_the_parents_accept_list() -> None:
    from pynenc.runner.reference import app_settings

    app = Pynenc(app_id="tests-unit-accept-forward")
    app.conf.accept_serializers = ["cloudpickle"]
    assert app_settings(app)[""]["accept_serializers"] == ("cloudpickle",)
