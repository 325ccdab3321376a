"""Migration tooling: ``pynenc-celery audit`` and ``pynenc-celery migrate``.

- :mod:`.offered`: which Celery names the compat layer offers, and from where (read from the
  compat modules themselves, so it cannot drift from what they export).
- :mod:`.files`: which files a run looks at (``--exclude``, test files left alone).
- :mod:`.audit` and :mod:`.catalog`: every Celery use in a codebase, each rated supported /
  supported with a difference / not supported, with the reason and the guide's section.
- :mod:`.rewrite`: the import rewrite (libcst, so formatting and comments survive).
- :mod:`.views`: unified diff, terminal side by side and the HTML report.
"""

from pynenc_celery_compat.migration.files import discover, is_test_file
from pynenc_celery_compat.migration.offered import CELERY_TO_COMPAT, compat_module_for

__all__ = ["CELERY_TO_COMPAT", "compat_module_for", "discover", "is_test_file"]
