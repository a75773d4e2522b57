"""``python -m engine ...``: the command line, kept under its documented name.

The command line lives at the edge (``cli/``: it drives ``jobs`` and the database, which nothing
under ``engine/`` imports). This is the one deliberate hand-over from ``engine/`` to the edge: the
edge is named by module name through ``importlib``, never imported, so the engine stays free of it.
"""
import importlib

raise SystemExit(importlib.import_module("cli").main())
