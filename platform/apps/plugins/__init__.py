"""Installed plugins, and which workspace enabled which, with what settings."""
