"""The orders app: checkout's tasks."""
