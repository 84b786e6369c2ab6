"""The composition root: the one package that assembles everything.

``queue_server`` is the core (engine, API, channels, archive); ``displays``, ``counters`` and
``monitoring`` are the pages and tools built on it. Only this package imports them all:
:func:`qms.app.create_app` is the application a server runs, ``python -m qms`` its command
line (docs/architecture.md, "Layers").
"""
