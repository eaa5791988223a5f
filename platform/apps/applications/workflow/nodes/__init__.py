"""Workflow node types: one module each, on the contract of ``base``."""
