"""Built-in agent tools."""
