"""One class per API resource; each holds the shared Requester and nothing else."""

from __future__ import annotations

from .contacts import Contacts
from .messages import Messages
from .sender_numbers import SenderNumbers
from .usage import Usage

__all__ = ["Contacts", "Messages", "SenderNumbers", "Usage"]
