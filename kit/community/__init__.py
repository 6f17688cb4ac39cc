"""The community of practice: its records (``records``), and what is built on them (league, ceremonies, plans)."""
