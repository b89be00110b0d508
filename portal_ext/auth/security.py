"""Security settings every response of the extension carries.

- Cookies (Flask docs, "Security Considerations"; OWASP ASVS 5.0 3.3): the session cookie is
  HttpOnly and SameSite=Lax; it is Secure when ``SESSION_COOKIE_SECURE`` is on, which a
  production deployment behind HTTPS must set (``PORTAL_EXT_SESSION_COOKIE_SECURE=1``). It
  stays off by default only because the one-command demo is plain http on 127.0.0.1, where a
  Secure cookie would never be sent back. Login never uses the remember-me cookie.
- Headers: no MIME sniffing, no framing (X-Frame-Options and CSP ``frame-ancestors``), no
  full URLs leaking to other sites in Referer, and a Content-Security-Policy allowing only
  the extension's own scripts, styles and images.
- CSRF: Flask-WTF's CSRFProtect covers every POST form (bound in the app factory); the event
  webhook and the bearer-token API are exempt because they do not use the session cookie.
"""

from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.after_request(add_security_headers)
