"""What people run: the CLI, the demo, benchmarks, backtest, score, and dev services (real Kafka, PostgreSQL)."""
