"""Versions stored on every analysis: the method it implements and this code's own version."""

# The method of shared/reference/epv-method.md; it changes only when the reference does.
METHOD_VERSION = "epv-1.0"
# Semver of this engine: bump the patch for fixes that keep every vector, the minor for
# new outputs, the major for anything that changes a stored figure.
ENGINE_VERSION = "1.0.0"
