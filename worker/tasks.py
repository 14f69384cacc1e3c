"""Thin tasks: take ids, call one service, and let the service commit."""
from celery import shared_task

from portal.mail import delivery


@shared_task(name="portal.deliver_emails")
def deliver_emails(email_ids: list[int]) -> dict:
    return delivery.deliver_emails(email_ids)


@shared_task(name="portal.sweep_outbox")
def sweep_outbox() -> int:
    return delivery.sweep_outbox()
