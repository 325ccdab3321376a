"""A compat task for ``bench.switchback_cost`` (importable: runners find tasks by module)."""

from pynenc_celery_compat import Celery

app = Celery("bench_switchback", broker="memory://", backend="cache+memory://")


@app.task
def add(x: int, y: int) -> int:
    return x + y
