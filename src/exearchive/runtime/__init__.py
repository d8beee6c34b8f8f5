"""The exearchive launcher: the code that goes into every archive.

This package is copied verbatim into each archive as ``_exearchive_runtime``.
It is the *run side* of exearchive and follows strict rules:

* standard library only; it never imports ``exearchive`` (inside an archive
  there is no ``exearchive`` to import) — modules import each other relatively;
* it runs on CPython 3.8 and newer and on PyPy 3;
* the warm path (``_boot``) imports nothing beyond ``os`` and ``sys``; the
  cold path (``_extract``), the compatibility check (``_compat``) and the
  tools (``_tools``) are imported only when needed.

The protocol between the archive and this package is the ``MANIFEST`` literal
in the archive's generated ``__main__.py`` (see ``_boot.main``).
"""
