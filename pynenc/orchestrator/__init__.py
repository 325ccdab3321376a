"""Orchestration written once over the state-backend primitives."""

from pynenc.orchestrator.orchestrator import Orchestrator

__all__ = ["Orchestrator"]
