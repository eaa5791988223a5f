"""Django apps, one per bounded context (see docs/architecture.md)."""
