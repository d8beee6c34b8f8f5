"""The commands of ``exearchive`` (private; the entry point is :func:`exearchive.cli.main`).

One module per concern: ``_main`` (dispatch and the error boundary),
``_parser`` (argument parsing whose errors are one line), ``_output`` and
``_progress`` (everything the command writes to the terminal), ``_settings``
(options as ``exearchive.<key>`` config settings), ``_wheel`` (a project's
wheel with its own backend, through ``build``), ``_target`` (where an archive
goes), ``_archive`` (reading an archive without running it), and the
commands: ``_build``, ``_pack``, ``_inspect``, ``_cache``.
"""
