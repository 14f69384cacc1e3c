"""Build the Celery app from the Flask factory, as Flask's `make_celery.py` does."""
from celery.signals import worker_process_init

from portal import create_app
from portal.extensions import db

flask_app = create_app()
celery_app = flask_app.extensions["celery"]


@worker_process_init.connect
def _fresh_database_pool(**_):
    """Forked pool children must not share the parent's pooled database connections."""
    with flask_app.app_context():
        # close=False: the sockets belong to the parent; closing them here would
        # break its connections too. The child simply opens its own.
        db.engine.dispose(close=False)
