"""The shop's metric schema, shared by the service that exports it and the code that reads it back."""

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10,
)
"""Latency histogram bucket edges, in seconds; the SLO thresholds the labs use are among them."""

VERSION = "1.0.0"
"""The version the shop and payments report in build_info when healthy."""

BAD_VERSION = "2.0.0"
"""The buggy release the bad_deploy fault switches to."""

PAYMENT_OUTCOMES: tuple[str, ...] = ("ok", "error", "timeout", "unreachable")
"""Outcomes of the shop's calls to payments (payments_client_requests_total{outcome})."""
