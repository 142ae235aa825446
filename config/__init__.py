"""Django project package; exposes the Celery app so ``celery -A config`` finds it."""

from config.celery_app import app

__all__ = ("app",)
