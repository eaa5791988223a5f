"""Built-in model providers (arrive with the model-endpoints issue)."""
