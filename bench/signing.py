"""The cost of message signing (``broker.signing_keys``) and of the decoder's bounds.

``python -m bench.signing [--calls N]`` prints:

- µs per sign + verify (HMAC-SHA256 over the body, as the broker does) for a 100-byte and
  a 1 MB body;
- µs per bound check (size and nesting depth, before ``json.loads``) for the same bodies,
  beside ``json.loads`` itself;
- µs per call of the embedded call path (``direct_task`` round trip: memory:// broker,
  memory state, a ThreadRunner in this process) with signing off and on (five alternating
  runs each, medians), and the relative cost.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable

from bench import tasks_embedded
from bench.measure import median
from pynenc.broker.envelope import Envelope, decode_message
from pynenc.broker.signing import SIGNATURE_HEADER, Signer

KEYS = ["bench-signing-key-0123456789abcdef", "bench-previous-key-0123456789abcdef"]


def _best_us(action: Callable[[], object], repeat: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the µs per ``action`` call (``repeat`` calls a round)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            action()
        samples.append((time.perf_counter() - start) / repeat * 1e6)
    return median(samples)


def _body(size: int) -> bytes:
    """An envelope body of about ``size`` bytes."""
    envelope = Envelope("inv-0", "bench.tasks.noop", {"x": ""}, "json")
    padding = max(0, size - len(envelope.encode()))
    arguments = {"x": json.dumps("a" * max(0, padding - 2))}
    return Envelope("inv-0", "bench.tasks.noop", arguments, "json").encode().encode()


def per_body(repeat_small: int = 20_000, repeat_large: int = 50) -> dict[str, float]:
    signer = Signer(KEYS)
    figures: dict[str, float] = {}
    for label, size, repeat in (("100B", 100, repeat_small), ("1MB", 1_000_000, repeat_large)):
        body = _body(size)

        def sign_verify(body: bytes = body) -> None:
            signer.verify({SIGNATURE_HEADER: signer.sign(body)}, body)

        figures[f"sign_verify_{label}_us"] = _best_us(sign_verify, repeat)
        figures[f"decode_{label}_us"] = _best_us(lambda body=body: decode_message(body), repeat)
        figures[f"json_loads_{label}_us"] = _best_us(lambda body=body: json.loads(body), repeat)
    return figures


def call_path_us(calls: int, signing: bool) -> float:
    """µs per embedded ``direct_task`` round trip, signing on or off."""
    app = tasks_embedded.app
    app.reset_components()
    app.conf.broker.signing_keys = tuple(KEYS) if signing else ()
    thread = threading.Thread(target=app.runner.run, daemon=True)
    thread.start()
    try:
        for i in range(200):  # warm-up: connections, queues, caches
            tasks_embedded.echo_direct(i)
        return _best_us(lambda: tasks_embedded.echo_direct(1), calls, rounds=1)
    finally:
        app.runner.stop_runner_loop()
        thread.join(30)
        app.conf.broker.signing_keys = ()
        app.reset_components()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="round trips per round")
    args = parser.parse_args()
    figures = per_body()
    for name, value in figures.items():
        print(f"{name:24} {value:10.2f} µs")
    # alternate off and on, so a change in the machine's load hits both alike
    pairs = [(call_path_us(args.calls, False), call_path_us(args.calls, True)) for _ in range(5)]
    off = median([pair[0] for pair in pairs])
    on = median([pair[1] for pair in pairs])
    print(f"{'call_path_unsigned_us':24} {off:10.2f} µs")
    print(f"{'call_path_signed_us':24} {on:10.2f} µs")
    print(f"{'signed_relative_cost':24} {100 * (on - off) / off:+10.1f} %")
    small = figures["sign_verify_100B_us"]
    print(f"{'sign_verify_100B_share':24} {100 * small / off:10.1f} % of an unsigned call")


if __name__ == "__main__":
    main()
