"""``pynenc runner start`` with a bad broker URL: a clear error before the banner, and no
password printed."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.integration.deployments import ROOT

SECRET = "s3cret-pw"


def _runner_start(broker_url: str) -> tuple[int, str]:
    """Exit status and output of a CLI runner start with ``broker_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    env.update(
        PYNENC__BROKER_URL=broker_url, PYNENC__STATE_BACKEND_URL="memory://", PYTHONPATH=str(ROOT)
    )
    done = subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", "tests.apps.deploy:app", "runner", "start"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_runner_start_with_bad_broker_url_fails_clearly_without_the_password() -> None:
    status, output = _runner_start(f"redis://:{SECRET}@host:notaport/0")
    assert status == 1, output
    assert "Invalid broker_url" in output and "'notaport' is not a number" in output
    assert SECRET not in output  # neither in the error nor in the runner's banner
    assert "pynenc runner" not in output  # refused before the banner


def test_runner_start_with_an_unknown_broker_scheme_fails_before_its_banner() -> None:
    status, output = _runner_start("bogus://x")
    assert status == 1, output
    assert "Invalid broker_url 'bogus://x'" in output
    assert "pynenc runner" not in output and "consuming" not in output


def test_runner_start_with_a_misspelt_scheme_suggests_the_right_one() -> None:
    status, output = _runner_start(f"reddis://:{SECRET}@127.0.0.1:6379/0")
    assert status == 1, output
    assert "Invalid broker_url 'reddis://:********@127.0.0.1:6379/0'" in output
    assert "did you mean 'redis://'?" in output and "KeyError" not in output
    assert SECRET not in output and "pynenc runner" not in output
