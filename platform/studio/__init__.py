"""The ministudio Django project: settings, URLs, the API roots and the command line."""
