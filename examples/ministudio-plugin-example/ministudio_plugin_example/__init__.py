"""An example third-party ministudio plugin: a unit converter tool and an .eml loader.

The plugins are found through the entry points in this distribution's ``pyproject.toml``;
nothing needs importing this package by hand.
"""

__version__ = "0.1.0"
