"""Service ownership: who owns each service, who is paged for it, and whether it is ready for production."""
