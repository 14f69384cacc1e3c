"""Celery worker and beat for Summit Portal: `celery -A worker worker` / `celery -A worker beat`."""
