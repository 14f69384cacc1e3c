"""Heartbeats on the embedded default (with Redis they live there; see portal.liveness.service)."""
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class Heartbeat(db.Model):
    """The last sign of life of one worker or of beat."""

    __tablename__ = "heartbeat"

    #: The worker's node name (e.g. "transactional@host"), or "beat". Never shown outside the database.
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The queues the worker consumes, comma-separated; empty for beat.
    queues: Mapped[str] = mapped_column(String(255), default="")
    seen_at: Mapped[datetime]
