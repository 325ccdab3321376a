"""The fixture codebases are inputs to the tools, not tests of this suite."""

collect_ignore_glob = ["fixtures/*"]
