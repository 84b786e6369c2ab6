"""Real-time queue and service-monitoring system for public administration service centers."""

__version__ = "0.1.0"
