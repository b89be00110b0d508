"""What the extension writes into the portal speaks its reader's language: the one they last
chose on the extension's pages (before logging in, or after), else the portal's language
setting (``PORTAL_LANGUAGE``, Russian by default). Read from the portal's inboxes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.config import BaseConfig
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from simulator import Simulator
from tests.ext.absences_support import EMAILS, ORLOV
from tests.ext.fanout_support import (
    FEDOROV,
    GRIGORIEVA,
    KUZNETSOV,
    NIKITINA,
    SMIRNOVA,
    WEEK,
    add_lead,
    copies,
    freeze,
    inbox,
    record_absence,
    record_team,
)

pytestmark = pytest.mark.dated


def choose_before_login(app: Flask, login_as: Any, user_id: int, language: str) -> None:
    """Pick the language on the sign-in page, then log in."""
    browser = app.test_client()
    assert browser.post("/language", data={"lang": language}).status_code == 302
    login_as(browser, EMAILS[user_id])


def choose_after_login(app: Flask, login_as: Any, user_id: int, language: str) -> None:
    """Log in, then switch the language in the top bar."""
    browser = app.test_client()
    login_as(browser, EMAILS[user_id])
    assert browser.post("/language", data={"lang": language}).status_code == 302


def language_kept(app: Flask, user_id: int) -> str | None:
    with app.app_context():
        return db.session.scalar(select(PortalUser.language).where(
            PortalUser.portal_user_id == user_id))


def test_the_portal_language_is_russian_unless_configured() -> None:
    assert BaseConfig.PORTAL_LANGUAGE == "ru"


def test_each_copy_is_in_its_recipients_language(
        app: Flask, demo_sim: Simulator, monday: datetime, login_as: Any) -> None:
    choose_before_login(app, login_as, FEDOROV, "ru")
    choose_after_login(app, login_as, GRIGORIEVA, "en")
    assert (language_kept(app, FEDOROV), language_kept(app, GRIGORIEVA),
            language_kept(app, SMIRNOVA)) == ("ru", "en", None)
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    record_team(app, "Desk", ["new_lead", "client_assigned"], [NIKITINA, GRIGORIEVA, SMIRNOVA])
    freeze(demo_sim, monday + timedelta(hours=2))

    add_lead(demo_sim, "Excavator", NIKITINA)

    [deputy] = copies(demo_sim, FEDOROV)
    assert deputy["message"].startswith("[B]Копия[/B] адресат: О. Никитина, отсутствует до ")
    assert "вы заместитель" in deputy["message"]
    [english] = copies(demo_sim, GRIGORIEVA)
    assert english["message"].startswith("[B]Copy[/B] for О. Никитина")
    assert "team Desk" in english["message"]
    # Smirnova never logged in: the portal's language, Russian by default.
    [default] = copies(demo_sim, SMIRNOVA)
    assert default["message"].startswith("[B]Копия[/B] адресат: О. Никитина")


def test_a_portal_configured_in_english_writes_english_to_who_never_chose(
        app: Flask, demo_sim: Simulator, monday: datetime, login_as: Any) -> None:
    app.config["PORTAL_LANGUAGE"] = "en"
    choose_after_login(app, login_as, FEDOROV, "ru")
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    record_team(app, "Desk", ["new_lead", "client_assigned"], [NIKITINA, SMIRNOVA])
    freeze(demo_sim, monday + timedelta(hours=2))

    add_lead(demo_sim, "Excavator", NIKITINA)

    assert copies(demo_sim, FEDOROV)[0]["message"].startswith("[B]Копия[/B]")
    assert copies(demo_sim, SMIRNOVA)[0]["message"].startswith("[B]Copy[/B] for О. Никитина")


def hand_over(client: FlaskClient, auth: dict[str, str], absence_id: int) -> dict[str, Any]:
    answer = client.post("/api/v1/handovers", headers=auth, json={
        "absence_id": absence_id, "types": ["deal"], "include_closed": True})
    assert answer.status_code == 201, answer.get_json()
    batch_id = answer.get_json()["id"]
    assert client.post(f"/api/v1/handovers/{batch_id}/apply", headers=auth).status_code == 202
    body: dict[str, Any] = client.get(f"/api/v1/handovers/{batch_id}", headers=auth).get_json()
    assert body["state"] == "applied" and body["totals"]["moved"] > 0
    return body


def summaries(sim: Simulator, user_id: int) -> list[str]:
    return [n["message"] for n in inbox(sim, user_id)
            if (n["tag"] or "").startswith("portal_ext:summary:")]


def test_each_handover_summary_is_in_its_readers_language(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime,
        admin: dict[str, str], login_as: Any) -> None:
    choose_before_login(app, login_as, FEDOROV, "ru")
    choose_after_login(app, login_as, GRIGORIEVA, "en")
    for owner in (NIKITINA, SMIRNOVA, KUZNETSOV):
        demo_sim.call("crm.deal.add", {"fields": {"TITLE": f"Deal of {owner}",
                                                  "ASSIGNED_BY_ID": owner},
                                       "params": {"REGISTER_SONET_EVENT": "N"}})
    start, end = t0 - timedelta(hours=1), t0 + timedelta(days=14)
    russian = hand_over(client, admin, record_absence(app, NIKITINA, FEDOROV, start, end,
                                                      now=start))
    english = hand_over(client, admin, record_absence(app, SMIRNOVA, GRIGORIEVA, start, end,
                                                      now=start))
    default = hand_over(client, admin, record_absence(app, KUZNETSOV, ORLOV, start, end,
                                                      now=start))

    [to_fedorov] = summaries(demo_sim, FEDOROV)
    assert to_fedorov.startswith("Ольга Никитина отсутствует до ")
    assert f"(передача {russian['id']})" in to_fedorov
    [to_grigorieva] = summaries(demo_sim, GRIGORIEVA)
    assert to_grigorieva.startswith(f"{english['totals']['moved']} of ")
    assert "items are yours until " in to_grigorieva
    [to_orlov] = summaries(demo_sim, ORLOV)
    assert f"(передача {default['id']})" in to_orlov
