"""A kombu transport module that cannot be imported: its client library is missing."""

import pynenc_no_such_client_library  # noqa: F401

Transport = None
