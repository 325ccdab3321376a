"""Bounds of the envelope decoder: a poison body is a clear error, never a crash."""

from __future__ import annotations

import json

import pytest

from pynenc.broker.envelope import (
    MAX_DEPTH,
    Envelope,
    MalformedEnvelopeError,
    decode_message,
    encode_batch,
)

POISON = "[" * 200_000 + "]" * 200_000


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("body", [POISON, POISON.encode(), "{" + '"a":' * 0 + _nested(5000)])
def test_deep_nesting_is_rejected_before_parsing(body: str | bytes) -> None:
    with pytest.raises(MalformedEnvelopeError, match=f"deeper than {MAX_DEPTH}"):
        decode_message(body)


def test_depth_counts_objects_and_arrays_alike() -> None:
    body = '{"a":[' * 20 + "1" + "]}" * 20  # 40 levels
    with pytest.raises(MalformedEnvelopeError, match="deeper than"):
        decode_message(body)
    with pytest.raises(MalformedEnvelopeError, match="not a pynenc"):
        decode_message(_nested(MAX_DEPTH))  # at the bound: parsed, then refused as foreign


def test_brackets_inside_strings_do_not_count() -> None:
    # arguments are serialized text: deep structures inside them are the task's business
    deep_argument = json.dumps(json.loads(_nested(500)))
    tricky = 'quote \\" backslash \\\\ ' + "[" * 100
    envelope = Envelope("inv-1", "m.t", {"a": deep_argument, "b": tricky}, "json")
    assert decode_message(envelope.encode()) == [envelope]
    batch = [Envelope(f"inv-{i}", "m.t", {"a": deep_argument}, "json") for i in range(50)]
    assert decode_message(encode_batch(batch)) == batch


def test_size_limit_names_the_option() -> None:
    envelope = Envelope("inv-1", "m.t", {"a": "x" * 5000}, "json")
    body = envelope.encode()
    assert decode_message(body, max_bytes=len(body)) == [envelope]
    with pytest.raises(MalformedEnvelopeError, match=r"broker\.max_message_bytes"):
        decode_message(body, max_bytes=len(body) - 1)


def test_default_size_limit_allows_large_arguments() -> None:
    envelope = Envelope("inv-1", "m.t", {"a": json.dumps("x" * 50_000_000)}, "json")
    assert decode_message(envelope.encode())[0].arguments == envelope.arguments


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",  # not UTF-8
        b'"unterminated',
        b"\x00" * 10,
        "[" * 50 + '"' + "]" * 50,  # unbalanced quote: no false "string"
        '{"v":1,"task":"m.t","ser":"json","id":"i","args":{"a":"\\ud800"}}garbage',
    ],
)
def test_any_parse_failure_is_a_malformed_envelope(body: str | bytes) -> None:
    with pytest.raises(MalformedEnvelopeError):
        decode_message(body)
