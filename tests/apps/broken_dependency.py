"""An app module whose own import fails: it needs a package that is not installed."""

from __future__ import annotations

import pynenc_test_missing_dependency  # noqa: F401  # the point of this module

from pynenc import Pynenc

app = Pynenc(app_id="tests-broken")
