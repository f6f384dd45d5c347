"""epv_auth: accounts, sessions, tokens and signing keys."""

__version__ = "0.1.0"
