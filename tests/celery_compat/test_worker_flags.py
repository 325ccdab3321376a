"""Celery's long worker flags parse: a command line copied from a Celery deployment runs."""

from click.testing import CliRunner

from pynenc_celery_compat.cli import cli


def _run(*args: str) -> str:
    # no -A: the command stops at loading the app, after reading its flags
    result = CliRunner().invoke(cli, ["worker", *args])
    assert result.exit_code == 2, result.output
    assert "Missing option '-A'" in result.output
    return result.output


def test_the_long_form_of_dash_o_is_accepted_with_its_warning() -> None:
    output = _run("--optimization", "fair")
    assert "Warning: -O does not apply on pynenc" in output


def test_pool_start_method_fork_warns_and_spawn_is_what_pynenc_does() -> None:
    assert "processes are always spawned" in _run("--pool-start-method", "fork")
    assert "Warning" not in _run("--pool-start-method", "spawn")


def test_an_unknown_start_method_is_a_usage_error_naming_the_choices() -> None:
    result = CliRunner().invoke(cli, ["worker", "--pool-start-method", "forkserver"])
    assert result.exit_code == 2
    assert "'fork'" in result.output and "'spawn'" in result.output
