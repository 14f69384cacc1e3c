"""Resource tasks: the daily link check."""
from celery import shared_task

from portal.extensions import db
from portal.resources.linkcheck import check_catalog_links


@shared_task(name="portal.resources.check_catalog_links")
def check_links() -> dict:
    counts = check_catalog_links()
    db.session.commit()
    return counts
