"""Tasks measured on the embedded default (memory broker + memory state, ThreadRunner)."""

from pynenc import Pynenc

app = Pynenc(app_id="bench-embedded")


@app.task
def noop() -> None:
    return None


@app.direct_task
def direct_noop(x: int) -> int:
    return x


@app.direct_task
def sync_add(x: int, y: int) -> int:
    return x + y


def plain_add(x: int, y: int) -> int:
    return x + y
