"""What the rewrite tests share."""

import ast

from pynenc_celery_compat.migration.rewrite import Rewrite, migrate_source


def migrated(source: str, *, include_app: bool = False) -> Rewrite:
    """The rewrite of ``source``, checked to parse and to change nothing when run again."""
    rewrite = migrate_source(source, path="mod.py", include_app=include_app)
    ast.parse(rewrite.migrated)
    again = migrate_source(rewrite.migrated, path="mod.py", include_app=include_app)
    assert again.migrated == rewrite.migrated, "a second run changed the module"
    assert not again.moved
    return rewrite
