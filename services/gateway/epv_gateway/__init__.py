"""epv_gateway: the one door for clients."""

__version__ = "0.1.0"
