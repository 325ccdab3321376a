"""Celery's ``celery.contrib.testing`` for compat tasks: :mod:`.worker` starts a pynenc
runner in-process."""
