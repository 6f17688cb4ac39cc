"""Safe releases: release plans, canary judges, the power a ring step needs, the deploy log and the DORA keys.

The package grows one module per concept; what a notebook reaches for is re-exported here.
"""
