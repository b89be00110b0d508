"""Notification fan-out: who gets a copy of a portal notification and why (rules), the
copies recorded and delivered through an outbox (services, tasks), teams (models, teams)."""
