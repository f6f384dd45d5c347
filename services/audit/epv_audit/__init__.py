"""epv_audit: the tamper-evident, hash-chained audit trail."""

__version__ = "0.1.0"
