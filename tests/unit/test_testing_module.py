"""``pynenc.testing``: importable without pytest; ``sync_mode`` restores what it changed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pynenc import Pynenc, SyncInvocation
from pynenc.testing import sync_mode

app = Pynenc(app_id="tests-sync-mode")


@app.task
def double(x: int) -> int:
    return 2 * x


def test_pynenc_and_its_test_helpers_do_not_import_pytest() -> None:
    code = (
        "import sys, pynenc, pynenc.testing\n"
        "assert 'pytest' not in sys.modules, 'pytest was imported'\n"
        "import pynenc.testing.state_backend_contract\n"
        "assert 'pytest' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_sync_mode_runs_inline_and_restores_the_setting() -> None:
    assert app.conf.dev_mode_force_sync_tasks is False
    with sync_mode(app) as same:
        assert same is app
        invocation = double(4)
        assert isinstance(invocation, SyncInvocation) and invocation.result == 8
    assert app.conf.dev_mode_force_sync_tasks is False
    app.conf.dev_mode_force_sync_tasks = True
    with pytest.raises(ValueError), sync_mode(app):
        raise ValueError("the block fails")
    assert app.conf.dev_mode_force_sync_tasks is True
