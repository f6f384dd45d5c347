"""Cross-cutting mechanisms and published contracts of the EPV services."""
