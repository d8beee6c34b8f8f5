"""Sample package with a C extension module, ``cext_demo._fast``."""
