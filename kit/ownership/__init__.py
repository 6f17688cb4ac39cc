"""Service ownership: the service catalog, the on-call rotation, the readiness review and the scorecard over them."""
