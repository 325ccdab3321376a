"""Declaring triggers: each mistake fails at declaration with an error naming what was
wrong and how to fix it, and the task is then not registered."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import TaskDefinitionError
from pynenc.trigger import TriggerBuilder, TriggerContext

app = Pynenc(app_id="tests-trigger-builder")


def report(period: str) -> str:
    return period


def no_arguments() -> None:
    return None


@app.task
def watched() -> int:
    return 1


def keep(payload: Any) -> bool:
    return True


def period_of(context: TriggerContext) -> dict[str, Any]:
    return {"period": "Q1"}


class Holder:
    def method(self, payload: Any) -> bool:
        return True


def _declare(func: Any, triggers: Any) -> None:
    app.task(triggers=triggers)(func)


def _fails(match: str, build: Any) -> TaskDefinitionError:
    with pytest.raises(TaskDefinitionError, match=match) as caught:
        build()
    return caught.value


# -- the builder's own checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("* * * *", "has 5 fields"),
        ("0 0 * * * *", "has 5 fields"),
        (5, "has 5 fields"),
        ("61 * * * *", "invalid cron expression"),
        ("* 25 * * *", "invalid cron expression"),
        ("* * * * funday", "invalid cron expression"),
        ("*/0 * * * *", "invalid cron expression"),
    ],
)
def test_a_bad_cron_expression_is_refused(expression: Any, why: str) -> None:
    error = _fails(why, lambda: TriggerBuilder().on_cron(expression))
    assert repr(expression) in str(error) and "minute" in str(error)


@pytest.mark.parametrize("seconds", [0, -5, 0.001, "60", True, math.inf, math.nan, None])
def test_a_bad_interval_is_refused(seconds: Any) -> None:
    _fails(
        r"on_interval\(.*\): give a number of seconds >= 0.01",
        lambda: TriggerBuilder().on_interval(seconds),
    )


@pytest.mark.parametrize("status", ["running", InvocationStatus.REGISTERED, "bogus", 3])
def test_a_status_no_invocation_ends_in_is_refused(status: Any) -> None:
    error = _fails(
        "not a status an invocation ends in", lambda: TriggerBuilder().on_status(watched, [status])
    )
    assert "SUCCESS, FAILED, CANCELLED, EXPIRED" in str(error)


def test_statuses_are_given_at_least_once_and_by_name_or_value() -> None:
    _fails("at least one status", lambda: TriggerBuilder().on_status(watched, []))
    builder = TriggerBuilder().on_status(watched, ["FAILED", InvocationStatus.CANCELLED, "failed"])
    assert builder.conditions[0].statuses == (InvocationStatus.FAILED, InvocationStatus.CANCELLED)  # type: ignore[union-attr]


def test_exception_types_are_classes_or_import_paths() -> None:
    _fails("not an exception class", lambda: TriggerBuilder().on_exception(watched, [5]))
    _fails("not an exception class", lambda: TriggerBuilder().on_exception(watched, [dict]))
    _fails("at least one exception type", lambda: TriggerBuilder().on_exception(watched, []))
    builder = TriggerBuilder().on_exception(watched, [KeyError, "myapp.errors.PaymentError"])
    assert builder.conditions[0].exception_types == (
        "builtins.KeyError",
        "myapp.errors.PaymentError",
    )  # type: ignore[union-attr]


def test_an_outcome_condition_needs_a_task() -> None:
    error = _fails("is not a task", lambda: TriggerBuilder().on_success(report))
    assert "module.function" in str(error)
    _fails("is not a task", lambda: TriggerBuilder().on_result(None))


def test_an_event_code_is_a_non_empty_string_and_logic_is_and_or_or() -> None:
    _fails("non-empty string", lambda: TriggerBuilder().on_event(""))
    _fails("non-empty string", lambda: TriggerBuilder().on_event(None))  # type: ignore[arg-type]
    _fails("use 'and' or 'or'", lambda: TriggerBuilder().with_logic("xor"))
    assert TriggerBuilder().with_logic("AND").logic == "and"


# -- filters and providers: importable module-level functions --------------------------------


def _nested(payload: Any) -> bool:
    def inner(value: Any) -> bool:
        return True

    return inner(payload)


def test_a_lambda_filter_or_provider_is_refused() -> None:
    error = _fails(
        "not a module-level function", lambda: TriggerBuilder().on_event("e", lambda p: True)
    )
    assert "payload_filter" in str(error) and "top level of an importable module" in str(error)
    _fails("with_arguments provider", lambda: TriggerBuilder().with_arguments(lambda c: {}))
    _fails("result_filter", lambda: TriggerBuilder().on_result(watched, lambda r: True))


def test_a_nested_function_or_a_method_is_refused() -> None:
    def nested(payload: Any) -> bool:
        return True

    _fails("not a module-level function", lambda: TriggerBuilder().on_event("e", nested))
    _fails("not a module-level function", lambda: TriggerBuilder().on_event("e", Holder().method))


def test_a_function_of_main_is_refused() -> None:
    def in_main(payload: Any) -> bool:
        return True

    in_main.__module__ = "__main__"
    in_main.__qualname__ = "in_main"
    error = _fails("defined in __main__", lambda: TriggerBuilder().on_event("e", in_main))
    assert "other processes cannot import" in str(error)


def test_a_function_that_does_not_import_back_by_its_name_is_refused() -> None:
    def renamed(payload: Any) -> bool:
        return True

    renamed.__qualname__ = "not_here"
    _fails("cannot be imported back", lambda: TriggerBuilder().on_event("e", renamed))
    _fails("must be a function", lambda: TriggerBuilder().on_event("e", "module:name"))  # type: ignore[arg-type]


def test_module_level_functions_are_kept_by_import_path() -> None:
    builder = TriggerBuilder().on_event("e", keep).with_arguments(period_of)
    assert builder.conditions[0].payload_filter == f"{__name__}:keep"  # type: ignore[union-attr]
    assert builder.provider == f"{__name__}:period_of"


# -- declaring them on a task ----------------------------------------------------------------


def test_a_builder_without_a_condition_is_refused_and_the_task_not_registered() -> None:
    error = _fails("has no condition", lambda: _declare(report, TriggerBuilder()))
    assert f"{__name__}.report" in str(error) and "on_cron" in str(error)
    assert f"{__name__}.report" not in app.tasks


def test_something_other_than_builders_is_refused() -> None:
    error = _fails(
        "takes a TriggerBuilder or a list of them", lambda: _declare(report, "0 * * * *")
    )
    assert "TriggerBuilder().on_cron" in str(error)
    _fails(
        "got 5",
        lambda: _declare(report, [TriggerBuilder().on_event("e").with_arguments(period_of), 5]),
    )
    assert f"{__name__}.report" not in app.tasks


@pytest.mark.parametrize(
    "arguments",
    [{"period": "Q1", "extra": 1}, {}, {"wrong": "Q1"}],
)
def test_arguments_that_do_not_fit_the_task_are_refused(arguments: dict[str, Any]) -> None:
    builder = TriggerBuilder().on_interval(60).with_arguments(arguments)
    error = _fails("do not fit its parameters", lambda: _declare(report, builder))
    assert "(period)" in str(error)
    unexpected = TriggerBuilder().on_interval(60).with_arguments({"x": 1})
    _fails(
        re.escape("do not fit its parameters (none)"), lambda: _declare(no_arguments, unexpected)
    )


def test_arguments_are_json_values_with_string_names() -> None:
    builder = TriggerBuilder().on_interval(60).with_arguments({"period": object()})
    _fails("must be JSON values", lambda: _declare(report, builder))
    _fails("argument names are strings", lambda: TriggerBuilder().with_arguments({1: "x"}))


def test_a_direct_task_refuses_triggers() -> None:
    error = _fails(
        "does not accept triggers=",
        lambda: app.direct_task(triggers=TriggerBuilder().on_interval(5))(report),
    )
    assert "@app.task" in str(error)


def test_good_declarations_give_one_trigger_each_with_a_stable_id() -> None:
    triggers = [
        TriggerBuilder().on_cron("0  3 * * mon-fri").with_arguments({"period": "day"}),
        TriggerBuilder().on_event("go").with_arguments(period_of),
    ]
    task = app.task(triggers=triggers)(report)
    mine = [d for d in app.trigger.definitions() if d.task_key == task.task_id.key]
    assert [d.describe() for d in mine] == ["cron '0 3 * * mon-fri'", "event 'go'"]
    again = app.task(triggers=triggers)(report)  # declared again: replaced, same ids
    assert [d.trigger_id for d in app.trigger.definitions() if d.task_key == again.task_id.key] == [
        d.trigger_id for d in mine
    ]
