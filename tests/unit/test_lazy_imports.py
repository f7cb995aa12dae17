"""``import tgo_async`` loads only what a single send needs; the rest comes on first use.

Why it matters: import time is start-up time for every service and CLI run (issue 7's goal is at
most 20 ms over the dependencies), and attrs classes and the cattrs converter are what cost it.
Each check runs in a fresh interpreter, so nothing imported by other tests can hide a regression.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_leaves_rare_parts_unloaded() -> None:
    """The message value types, the bulk engine, Redis and the converter wait for first use."""
    out = _run("""
        import sys
        import tgo_async
        from tgo_async import _converter
        lazy = ["tgo_async._messages", "tgo_async.bulk", "tgo_async._redis_limiter", "html"]
        print([m for m in lazy if m in sys.modules], _converter.get_converter.cache_info().currsize)
    """)
    assert out == "[] 0"


def test_lazy_attributes_resolve_to_the_real_classes() -> None:
    """Each lazy name gives the class from its module, through both attribute and from-import."""
    out = _run("""
        import tgo_async
        from tgo_async import TextMessage, VoiceMessage
        from tgo_async._messages import DocumentMessage, ImageMessage
        from tgo_async.bulk import BulkJob, Outcome
        assert TextMessage.__name__ == "TextMessage" and VoiceMessage.__name__ == "VoiceMessage"
        assert tgo_async.DocumentMessage is DocumentMessage and tgo_async.ImageMessage is ImageMessage
        assert tgo_async.BulkJob is BulkJob and tgo_async.Outcome is Outcome
        missing = [n for n in tgo_async.__all__ if not hasattr(tgo_async, n)]
        print(missing, tgo_async.__version__ != "")
    """)
    assert out == "[] True"


def test_usual_message_body_does_not_build_the_converter() -> None:
    """A send response of the documented shape takes the fast path; an odd one builds cattrs once."""
    out = _run("""
        from tgo_async._converter import get_converter, structure
        from tgo_async.models import Message
        body = {"id": 1, "sender_number_id": 2, "to_phone": "+201001234567", "message_type": "text",
                "content": "hi", "status": "queued", "sent_at": "2025-01-10T08:00:00Z", "media": None}
        structure(body, Message)
        before = get_converter.cache_info().currsize
        odd = structure({**body, "id": "7"}, Message)  # a string id: only the cattrs hook accepts it
        print(before, get_converter.cache_info().currsize, odd.id)
    """)
    assert out == "0 1 7"
