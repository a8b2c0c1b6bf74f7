"""The real-time service: HTTP API, online event store, result cache, API keys, metrics."""
