"""Small text tools, each one a console script."""
