"""Mass and destructive actions on the pages ask first: the POST without a confirmation
answers with the confirmation page (nothing done); the page's token performs it."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def asked(client: FlaskClient, path: str, data: dict[str, Any] | None = None
          ) -> tuple[str, dict[str, str]]:
    """POST without a confirmation: the confirmation page (200) and its hidden fields."""
    answer: Any = client.post(path, data=data or {})
    assert answer.status_code == 200, (answer.status_code, answer.headers.get("Location"))
    page: str = answer.get_data(as_text=True)
    assert 'id="confirmation-form"' in page, page[-2000:]
    form = page.split('id="confirmation-form"', 1)[1].split("</form>", 1)[0]
    return page, {name: html.unescape(value) for name, value in _HIDDEN.findall(form)}


def lines(page: str) -> str:
    """The confirmation's heading and lines as text."""
    box = page.split('id="confirmation"', 1)[1].split(">", 1)[1]
    box = box.split("<form", 1)[0]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", box))).strip()


def confirmed(client: FlaskClient, path: str, data: dict[str, Any] | None = None,
              *, follow_redirects: bool = False) -> Any:
    """Ask, then answer with the page's token (what clicking "Confirm" does)."""
    _, fields = asked(client, path, data)
    return client.post(path, data={**(data or {}), **fields},
                       follow_redirects=follow_redirects)
