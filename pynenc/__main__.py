"""``python -m pynenc`` is the ``pynenc`` command."""

from pynenc.cli.main import main

main()
