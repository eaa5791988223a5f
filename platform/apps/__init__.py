"""Django apps, one per bounded context (see DESIGN.md)."""
