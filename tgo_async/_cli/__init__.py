"""The ``tgo-async`` command line (console script ``tgo_async._cli:main``; ``python -m tgo_async``).

Modules: ``_app`` parsing and dispatch, ``_commands`` single calls, ``_bulk`` send-bulk,
``_rows`` CSV/JSONL input and sharding, ``_progress`` live progress and summary, ``_demo`` the
self-checking demo, ``_output`` rich-or-plain rendering (rich is optional and imported lazily).
"""

from __future__ import annotations

from ._app import main

__all__ = ["main"]
