"""The community of practice: its records, its league, its ceremonies and the facilitator's guide."""
