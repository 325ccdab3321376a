"""``python -m bench.realworld``: see :mod:`bench.realworld.run`."""

import sys

from bench.realworld.run import main

sys.exit(main())
