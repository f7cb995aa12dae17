"""Start and stop a throwaway ``redis-server`` on a free 127.0.0.1 port, for tests and benchmarks.

No persistence, its own temporary directory, killed on exit. If the binary is missing the caller is told
why: tests skip with that reason locally, but under ``CI`` (set to anything but ""/0/false) a missing
redis-server is a failure, so CI cannot silently stop testing the Redis limiter.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RedisUnavailableError", "in_ci", "redis_server", "redis_server_binary"]


class RedisUnavailableError(RuntimeError):
    """redis-server is not installed (or would not start)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def redis_server_binary() -> str:
    """Path of redis-server, or RedisUnavailableError explaining how to get it."""
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                            else None)
    if path is None:
        raise RedisUnavailableError(
            "redis-server not found on PATH (Debian: apt-get install -y redis-server)")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(startup_timeout: float = 10.0) -> Iterator[str]:
    """Run redis-server for the duration of the block; yields its ``redis://127.0.0.1:PORT/0`` URL."""
    binary = redis_server_binary()
    with tempfile.TemporaryDirectory(prefix="tgo-redis-") as tmp:
        for _attempt in range(3):  # the free port can be taken between probe and bind: retry
            port = _free_port()
            log_path = os.path.join(tmp, f"redis-{port}.log")
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--logfile", log_path],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + startup_timeout
            while proc.poll() is None and time.monotonic() < deadline and not _ping(port):
                time.sleep(0.02)
            if proc.poll() is None and _ping(port):
                break
            _stop(proc)
        else:
            raise RedisUnavailableError(f"redis-server did not start; see {log_path}")
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
