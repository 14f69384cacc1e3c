"""The Celery application, built from the Flask factory as Flask's Celery example does."""
from portal import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
