"""The Celery entry point: `celery -A worker.app:celery_app worker` (or `beat`).

Tasks live in their domains (portal/<domain>/tasks.py); this package only
builds the Celery app from the Flask factory.
"""
