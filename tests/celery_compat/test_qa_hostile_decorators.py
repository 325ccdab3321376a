"""Task decorators applied carelessly: wrong targets and option values of the wrong type are
refused when the task is declared, with the option named, not when a retry comes."""

from __future__ import annotations

from typing import Any

import pytest

from pynenc_celery_compat import shared_task


class NotAFunction:
    def run(self) -> None:
        return None


def test_a_class_is_refused_with_the_class_based_way() -> None:
    with pytest.raises(TypeError, match=r"class NotAFunction.*app\.register_task"):
        shared_task(NotAFunction)
    with pytest.raises(TypeError, match=r"class NotAFunction"):
        shared_task()(NotAFunction)


def test_a_lambda_is_refused_clearly() -> None:
    # it used to fail inside Celery's head_from_fun with "SyntaxError: invalid syntax"
    with pytest.raises(TypeError, match=r"lambda.*def"):
        shared_task(lambda x: x)


@pytest.mark.parametrize(
    ("option", "value", "hint"),
    [
        ("max_retries", "3", "an integer >= 0"),
        ("max_retries", -1, "an integer >= 0"),
        ("default_retry_delay", "soon", "seconds"),
        ("autoretry_for", KeyError, r"tuple of exception classes, e\.g\. autoretry_for="),
        ("autoretry_for", ("KeyError",), "tuple of exception classes"),
        ("dont_autoretry_for", ValueError, "tuple of exception classes"),
        ("retry_backoff", "yes", "True/False, or a number"),
        ("retry_jitter", "no", "True or False"),
        ("retry_kwargs", [1], "a dict"),
        ("time_limit", -1, "seconds > 0"),
        ("soft_time_limit", "x", "seconds > 0"),
        ("priority", "high", "an integer 0"),
        ("expires", "tomorrow", "seconds > 0 or a datetime"),
    ],
)
def test_an_option_of_the_wrong_type_is_refused_at_declaration(
    option: str, value: Any, hint: str
) -> None:
    def careless(x: int) -> int:
        return x

    with pytest.raises(TypeError, match=rf"{option}=.* is not valid; {option} must be .*{hint}"):
        shared_task(**{option: value})(careless)


def test_valid_spellings_stay_accepted() -> None:
    def careful(x: int) -> int:
        return x

    task = shared_task(
        name="tests.celery_compat.test_qa_hostile_decorators.careful",
        max_retries=None,
        autoretry_for=[KeyError],
        retry_backoff=2,
        retry_jitter=False,
        retry_kwargs={"max_retries": 2},
        time_limit=0,
        soft_time_limit=None,
        priority=0,
        expires=30.5,
    )(careful)
    assert task.max_retries is None and task.retry_backoff == 2
