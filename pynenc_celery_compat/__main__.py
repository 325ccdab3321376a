"""``python -m pynenc_celery_compat``: the ``pynenc-celery`` command."""

from pynenc_celery_compat.cli import main

if __name__ == "__main__":
    main()
