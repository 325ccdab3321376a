"""QA of triggers: what is not JSON is refused where an event is emitted (NaN and Infinity
were stored, though docs and the CLI's help say a payload is JSON), and an empty event
code is a usage error of ``pynenc triggers emit`` (it printed a warning, then failed
with exit code 1)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pynenc.cli.main import cli
from pynenc.testing import in_memory
from tests.apps import qa_triggers

APP = "tests.apps.qa_triggers:app"


@pytest.mark.parametrize("payload", [float("nan"), {"t": float("inf")}, [1, -float("inf")]])
def test_nan_and_infinity_are_not_json(payload: object) -> None:
    with in_memory(qa_triggers.app), pytest.raises(ValueError, match="must be a JSON value"):
        qa_triggers.app.trigger.emit_event("qa.order", payload)


@pytest.mark.parametrize("text", ["NaN", '{"t": Infinity}', "[-Infinity]"])
def test_the_cli_refuses_nan_and_infinity(text: str) -> None:
    with in_memory(qa_triggers.app):
        done = CliRunner().invoke(
            cli, ["--app", APP, "triggers", "emit", "qa.order", "--payload", text]
        )
    assert done.exit_code == 2, done.output
    assert "is not a JSON value" in done.output


def test_the_cli_refuses_an_empty_code_before_anything_else() -> None:
    with in_memory(qa_triggers.app):
        done = CliRunner().invoke(cli, ["--app", APP, "triggers", "emit", ""])
    assert done.exit_code == 2, done.output
    assert "Invalid value for 'CODE': an event code is a non-empty string" in done.output
    assert "Warning" not in done.output
