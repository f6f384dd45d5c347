"""epv_audit: the tamper-evident, hash-chained audit trail."""

__version__ = "0.1.0"

# Here rather than in models, so that verify's worker processes name it without SQLAlchemy.
SCHEMA = "audit"
