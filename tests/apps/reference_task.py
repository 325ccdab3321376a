"""The pynenc.task module reference's examples, as written there."""

from pynenc import ConcurrencyControlType, Pynenc

app = Pynenc()


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(registration_concurrency=ConcurrencyControlType.DISABLED)
def process(large_data: str, index: int) -> int:
    return len(large_data) + index


@app.task(max_retries=0)
def func():  # type: ignore[no-untyped-def]
    pass
