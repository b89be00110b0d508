"""The web side: pages (auth, dashboard) and the JSON API, each a blueprint.

``init_app`` registers them; the API authenticates with bearer tokens, never with the
session cookie, so it is exempt from CSRF.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # absences and notifications add their API routes to api.bp, so they are imported
    # before api.bp is registered.
    from portal_ext.blueprints import (
        absences,
        api,
        auth,
        dashboard,
        errors,
        handover,
        notifications,
        transfers,
    )
    from portal_ext.extensions import csrf

    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(absences.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(handover.bp)
    app.register_blueprint(transfers.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    dashboard.init_app(app)
    errors.init_app(app)
