"""The web side: pages (auth, dashboard, each domain's pages: portal_ext.domains) and the
JSON API, each a blueprint.

``init_app`` registers them; the API authenticates with bearer tokens, never with the
session cookie, so it is exempt from CSRF.
"""

from __future__ import annotations

import importlib

from flask import Flask

from portal_ext import domains


def init_app(app: Flask) -> None:
    from portal_ext.blueprints import api, auth, dashboard, errors
    from portal_ext.extensions import csrf

    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    # A domain's pages may add API routes to api.bp, so they are all imported before api.bp
    # is registered.
    for domain in domains.DOMAINS:
        if domain.blueprint_module is not None:
            app.register_blueprint(importlib.import_module(domain.blueprint_module).bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    from portal_ext.blueprints import bizproc

    bizproc.init_app(app)
    dashboard.init_app(app)
    errors.init_app(app)
