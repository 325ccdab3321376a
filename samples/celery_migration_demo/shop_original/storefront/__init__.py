"""The storefront app: the views that send the tasks (no tasks of its own)."""
