"""Uses that test a value's class: ``isinstance(x, crontab)``, ``issubclass``, ``except
group_error``, ``case crontab():``.

The compat layer's ``crontab``, ``group``, ``Signature``… derive from Celery's. Made by the
compat layer, a value is an instance of both; made by Celery (a beat schedule in a module not
migrated yet, Celery's own canvas, a result backend's ``GroupResult``), it is only Celery's.
So a class that moves keeps working where it builds values, but a class test with it would
stop matching Celery's values (sentry-sdk's beat integration tells a crontab from a plain
schedule this way): a name used in such a test stays on Celery, where it matches both.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

#: why a class used in a class test stays
CLASS_TEST = (
    "used in a class test (isinstance, issubclass, except, case) at line {line}: the compat "
    "class derives from Celery's, so Celery's matches the values of both and the compat one "
    "would miss Celery's"
)


def in_class_test(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """Whether ``node`` is the class of a class test (directly, or in a tuple of them)."""
    child = node
    parent = parents.get(child)
    while isinstance(parent, cst.Element | cst.Tuple):  # isinstance(x, (a, b))
        child, parent = parent, parents.get(parent)
    if isinstance(parent, cst.Arg):
        call = parents.get(parent)
        return (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Name)
            and call.func.value in ("isinstance", "issubclass")
            and len(call.args) > 1
            and call.args[1] is parent
        )
    if isinstance(parent, cst.ExceptHandler | cst.ExceptStarHandler):
        return parent.type is child
    if isinstance(parent, cst.MatchClass):
        return parent.cls is child
    return False
