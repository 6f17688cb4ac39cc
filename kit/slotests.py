"""Moved to ``kit.slo.promtests``; this module re-exports its public names for one release and will then go."""

from .slo.promtests import generate_tests, prometheus_rate, test_rules

__all__ = ["generate_tests", "test_rules", "prometheus_rate"]
