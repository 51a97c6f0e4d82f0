"""The ``turnout`` command line: thin commands over the core and the server."""
