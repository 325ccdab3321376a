"""How ``make test`` spreads the suite over pytest-xdist workers (``-n N --dist loadgroup``).

A work unit goes to one worker whole, and a worker runs a unit's tests in collection order,
so module- and package-scoped fixtures are set up once per unit, as in a serial run. A unit
is a test file; a whole sub-package of a suite (``tests/celery_compat/sidebyside/``: its
package-scoped fixtures start Celery workers and runners once); or every test marked
``pytest.mark.xdist_group(name)``, wherever it is (the RabbitMQ tests: one server for the
run, not one per worker).

A plugin (loaded from ``tests/conftest.py``); without ``--dist loadgroup`` xdist schedules
as it would anyway.
"""

from __future__ import annotations

from typing import Any

import pytest


def unit_of(nodeid: str) -> str:
    """The work unit of a test, given its node id (``@name``: its ``xdist_group``)."""
    if nodeid.rfind("@") > nodeid.rfind("]"):  # xdist's suffix; a parameter may hold a '@'
        return nodeid.rsplit("@", 1)[1]
    parts = nodeid.split("::", 1)[0].split("/")
    # tests/<suite>/<package>/…/test_x.py: the package; tests/<suite>/test_x.py: the file
    return "/".join(parts[:3]) if len(parts) > 3 else "/".join(parts)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class UnitScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)
