"""Moved to ``kit.slo.openslo``; this module re-exports its public names for one release and will then go."""

from .slo.openslo import API_VERSION, BUDGETING_METHODS, KINDS, OPERATORS, is_openslo, to_specs, window

__all__ = ["API_VERSION", "BUDGETING_METHODS", "KINDS", "OPERATORS", "is_openslo", "to_specs", "window"]
