"""The event contract (CloudEvents 1.0 envelope, one JSON Schema per type), outbox and inbox."""
