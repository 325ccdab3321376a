"""Real Celery codebases from PyPI through ``pynenc-celery audit`` and ``migrate``, with their
own test suites before and after (``python -m bench.realworld``)."""
