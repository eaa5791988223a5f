"""Housekeeping for agent apps, on the ``default`` queue (beat runs it every 5 minutes)."""

from celery import shared_task
from django.utils import timezone

from apps.applications import selectors, services


@shared_task(name="applications.forget_idle_sessions")
def forget_idle_sessions() -> int:
    """Delete the sessions idle longer than ``AGENT_SESSION_IDLE_SECONDS``."""
    return services.forget_idle_sessions(timezone.now() - selectors.session_idle_limit())
