"""The community of practice around the labs: its records, its league, its ceremonies and the facilitator's
guide's session plans. Importing it imports none of its modules."""
