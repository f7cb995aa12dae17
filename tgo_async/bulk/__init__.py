"""Bulk sending: ``client.messages.send_many`` with per-item outcomes, checkpoints, reconciliation."""

from __future__ import annotations

from ._checkpoint import Checkpoint, read_checkpoint
from ._job import BulkJob
from ._outcome import BulkStats, Outcome, Status, auto_ref
from ._reconcile import ReconcileReport, reconcile

__all__ = [
    "BulkJob",
    "BulkStats",
    "Checkpoint",
    "Outcome",
    "ReconcileReport",
    "Status",
    "auto_ref",
    "read_checkpoint",
    "reconcile",
]
