"""A package whose only content is a C extension module."""
