"""How a rewrite is shown: ``unified_diff(rewrite)``, ``side_by_side(rewrite, width)`` (two
terminal columns), ``html_report(rewrites)`` (one page, original left, migrated right,
changed lines highlighted)."""
