"""The test harness: a whole system per test run, on real PostgreSQL, Redis and RabbitMQ."""
