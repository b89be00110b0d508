"""A ``requests.Session`` whose requests to one base URL are answered by a WSGI app in this
process: the extension's server-to-server OAuth calls (code exchange, ``profile``,
``user.admin``) reach the simulated portal's real HTTP endpoints without a network server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app


class WsgiAdapter(BaseAdapter):
    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        self.calls: list[str] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        url = urlsplit(request.url or "")
        self.calls.append(f"{request.method} {url.path}")
        body = request.body or b""
        builder = EnvironBuilder(
            path=url.path, query_string=url.query, method=request.method or "GET",
            base_url=f"{url.scheme}://{url.netloc}", headers=list(request.headers.items()),
            data=body.encode() if isinstance(body, str) else body)
        try:
            app_iter, status, headers = run_wsgi_app(self.app, builder.get_environ(),
                                                     buffered=True)
            content = b"".join(app_iter)
        finally:
            builder.close()
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(dict(headers))
        response._content = content
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None


def wsgi_session(base_url: str, app: Any) -> requests.Session:
    session = requests.Session()
    session.mount(base_url.rstrip("/") + "/", WsgiAdapter(app))
    return session
