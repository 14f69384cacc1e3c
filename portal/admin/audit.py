"""The audit log: one row per thing an admin or staff member did."""
from sqlalchemy import select

from portal.admin.models import AdminUser, AuditEvent
from portal.extensions import db

AUDIT_PAGE_SIZE = 100


def record_action(actor: AdminUser | None, action: str, target: str = "", detail: dict | None = None) -> AuditEvent:
    """Add an audit row to the caller's transaction: it lands with the change it describes, or not at all."""
    event = AuditEvent(
        admin_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else "",
        action=action,
        target=target,
        detail=detail or {},
    )
    db.session.add(event)
    return event


def recent_actions(before_id: int | None = None, action: str | None = None) -> list[AuditEvent]:
    """Newest first, a page at a time (keyset paging: fast however long the log gets)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE_SIZE)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))
