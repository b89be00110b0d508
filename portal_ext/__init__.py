"""The extension: ``create_app`` builds the Flask app (see portal_ext.app for the wiring)."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The extension's Flask app. Settings: portal_ext.config (environment ``PORTAL_EXT_*``,
    then ``config``); ``{"TESTING": True}`` starts from ``TestConfig``."""
    from portal_ext.app import build_app

    return build_app(config)
