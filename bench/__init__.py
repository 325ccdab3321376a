"""Side-by-side benchmarks of pynenc, Celery and raw kombu: one run, same transport, same machine.

Run ``python -m bench --help`` (or ``make bench``); ``bench/README.md`` says what each scenario
measures and how to read the ratios.
"""
