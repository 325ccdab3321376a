"""kombu transports whose client library is missing, for the broker URL tests.

``Transport`` fails when instantiated (as kombu's zookeeper, etcd or consul transports do
without their library); importing :mod:`tests.apps.missing_client_module` fails at once
(as kombu's SQS or MongoDB transports do).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import virtual


class Transport(virtual.Transport):  # type: ignore[misc]
    def __init__(self, client: Any, **kwargs: Any) -> None:
        raise ImportError("Missing pynenc-fake-client library")
