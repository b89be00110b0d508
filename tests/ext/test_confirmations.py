"""Mass and destructive actions on the pages cannot be triggered without the confirmation: the
direct POST changes nothing and answers with the numbers of what would happen; the page's
token performs it; a token for another plan (the numbers changed, another action) asks again.
The progress block tells the truth about the run: items left alone counted apart, whole
percents, no rate after the run, the heading by the outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext.extensions import db
from portal_ext.moves.models import MoveBatch
from portal_ext.notifications.models import Team
from simulator import Simulator
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    NIKITINA,
    SMIRNOVA,
    absences,
    freeze,
    start_of_hour,
)
from tests.ext.confirm_support import asked, confirmed, lines
from tests.ext.fanout_support import inbox
from tests.ext.handover_support import holders, owned_by, record_absence
from tests.ext.oauth_login import LoginAs
from tests.ext.transfers_support import EQUIPMENT_HEAD, holdings

pytestmark = pytest.mark.dated


def _state(app: Flask, batch_id: int) -> str:
    with app.app_context():
        batch = db.session.get(MoveBatch, batch_id)
        assert batch is not None
        return str(batch.state)


def _batch_id(answer: Any) -> int:
    assert answer.status_code == 302, answer.get_data(as_text=True)[-1500:]
    return int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])


@pytest.fixture
def handover(app: Flask, demo_sim: Simulator, client: FlaskClient, login_as: LoginAs
             ) -> tuple[int, int]:
    """Nikitina away from now for five days with Fedorov as deputy; the admin has previewed
    the handover of her deals and companies. (absence id, handover id)"""
    t0 = start_of_hour(demo_sim)
    freeze(client, t0)
    absence_id = record_absence(app, user=NIKITINA, deputy=FEDOROV, start=t0,
                                end=t0 + timedelta(days=5))
    login_as(client, EMAILS[ADMIN])
    return absence_id, _batch_id(client.post(f"/handovers/new?absence={absence_id}",
                                             data={"types": ["deal", "company"],
                                                   "include_closed": "y"}))


def test_a_handover_moves_and_comes_back_only_once_confirmed(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        handover: tuple[int, int]) -> None:
    _, batch_id = handover
    hers = [key for key in owned_by(demo_sim, NIKITINA) if key[0] in ("deal", "company")]
    deals = len([key for key in hers if key[0] == "deal"])
    before = holders(demo_sim)

    page, _ = asked(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    assert (f"Hand over {len(hers)} items of 2 kinds from Ольга Никитина to Алексей Фёдоров?"
            in lines(page))
    assert f"Deals: {deals}" in lines(page) and "They move now." in lines(page)
    assert "Give everything back now" in page  # the way back is named before confirming
    assert (holders(demo_sim), _state(app, batch_id)) == (before, "preview")

    # A token for another action (or a changed plan) does not do it: the page asks again.
    _, restore_fields = asked(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    again = client.post(f"/handovers/{batch_id}/restore", data=restore_fields)
    assert _state(app, batch_id) == "preview"
    stale = client.post(f"/handovers/{batch_id}/apply",
                        data={"start": "now", "confirmation": "forged"})
    assert 'id="confirmation-changed"' in stale.get_data(as_text=True)
    assert (holders(demo_sim), _state(app, batch_id)) == (before, "preview")
    assert again.status_code in (302, 409, 422)

    confirmed(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    assert _state(app, batch_id) == "applied"
    assert set(map(holders(demo_sim).__getitem__, hers)) == {FEDOROV}

    page, _ = asked(client, f"/handovers/{batch_id}/restore")
    assert f"Give {len(hers)} items back now?" in lines(page)
    assert (f"{len(hers)} items go back from Алексей Фёдоров to Ольга Никитина."
            in lines(page))
    assert _state(app, batch_id) == "applied"
    confirmed(client, f"/handovers/{batch_id}/restore")
    assert _state(app, batch_id) == "restored"
    assert holders(demo_sim) == before


def test_the_progress_counts_items_left_alone_apart(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        handover: tuple[int, int]) -> None:
    _, batch_id = handover
    hers = [key for key in owned_by(demo_sim, NIKITINA) if key[0] in ("deal", "company")]
    deal = next(key for key in hers if key[0] == "deal")
    # Someone else takes one deal between the preview and the confirmation: left alone.
    demo_sim.call("crm.deal.update", {"id": deal[1], "fields": {"ASSIGNED_BY_ID": SMIRNOVA}})
    confirmed(client, f"/handovers/{batch_id}/apply", {"start": "now"})

    status = client.get(f"/handovers/{batch_id}/progress").get_json()
    assert (status["status"], status["succeeded"], status["left_alone"], status["failed"]) == (
        "finished", len(hers) - 1, 1, 0)
    assert status["percent"] == 100 and status["percent_text"] == "100%"
    assert status["heading"] == "Handed over"
    assert status["figures"] == f"{len(hers) - 1} moved · 1 left alone"
    assert "items/s" not in status["html"] and "time left" not in status["html"]
    page = client.get(f"/handovers/{batch_id}").get_data(as_text=True)
    assert f"{len(hers) - 1} moved · 1 left alone" in page
    assert f"{len(hers)} / {len(hers)}" not in page
    assert "<title>Handover of Ольга Никитина&#39;s clients, " in page

    with client.session_transaction() as session:
        session["lang"] = "ru"
    ru = client.get(f"/handovers/{batch_id}/progress").get_json()
    assert ru["percent_text"] == "100\xa0%" and ru["heading"] == "Передано"


def test_a_transfer_and_its_undo_only_once_confirmed(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: LoginAs) -> None:
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    login_as(client, EMAILS[ADMIN])
    kinds = ("deal", "company", "activity")
    held = {t: n for t, n in holdings(demo_sim, NIKITINA).items() if t in kinds}
    batch_id = _batch_id(client.post("/transfers/new", data={
        "user_id": NIKITINA, "strategy": "head", "types": list(kinds), "include_closed": "y"}))
    total = sum(held.values())

    page, _ = asked(client, f"/transfers/{batch_id}/apply")
    head = lines(page).split(" to ", 1)[1].split("?", 1)[0]
    assert lines(page).startswith(
        f"Move {total} items of {len([n for n in held.values() if n])} kinds from "
        f"Ольга Никитина to ")
    assert f"{head}: {total} items" in lines(page)
    assert "Undo the transfer" in page  # the way back
    assert holdings(demo_sim, NIKITINA)["deal"] == held["deal"]
    assert _state(app, batch_id) == "preview"

    done = confirmed(client, f"/transfers/{batch_id}/apply", follow_redirects=True)
    assert 'id="undo-form"' in done.get_data(as_text=True)
    assert _state(app, batch_id) == "applied"
    assert holdings(demo_sim, EQUIPMENT_HEAD)["deal"] >= held["deal"]
    assert "<title>Transfer of Ольга Никитина&#39;s items" in done.get_data(as_text=True)

    page, _ = asked(client, f"/transfers/{batch_id}/undo")
    assert f"Undo the transfer: {total} items go back to Ольга Никитина?" in lines(page)
    assert _state(app, batch_id) == "applied"
    confirmed(client, f"/transfers/{batch_id}/undo")
    assert _state(app, batch_id) == "restored"
    assert {t: n for t, n in holdings(demo_sim, NIKITINA).items() if t in kinds} == held


def test_deleting_an_absence_says_what_happens_to_its_handover(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        handover: tuple[int, int]) -> None:
    absence_id, batch_id = handover
    hers = [key for key in owned_by(demo_sim, NIKITINA) if key[0] in ("deal", "company")]
    confirmed(client, f"/handovers/{batch_id}/apply", {"start": "now"})

    page, _ = asked(client, f"/absences/{absence_id}/delete")
    text = lines(page)
    assert text.startswith("Delete the absence of Ольга Никитина, ")
    assert f"Its handover ends: {len(hers)} items go back to Ольга Никитина." in text
    assert len(absences(app)) == 1 and _state(app, batch_id) == "applied"

    confirmed(client, f"/absences/{absence_id}/delete")
    assert absences(app) == []
    assert _state(app, batch_id) in ("restoring", "restored")


def test_deleting_a_team_says_who_stops_getting_copies(
        app: Flask, client: FlaskClient, login_as: LoginAs) -> None:
    login_as(client, EMAILS[ADMIN])
    assert client.post("/teams/new", data={"name": "Equipment", "kinds": ["new_lead"],
                                           "members": [NIKITINA, FEDOROV]}).status_code == 302
    with app.app_context():
        team_id = db.session.scalars(db.select(Team.id)).one()
    page, fields = asked(client, f"/teams/{team_id}/delete")
    assert "Delete the team “Equipment”?" in lines(page)
    assert "2 members stop getting copies of: New lead." in lines(page)

    # The team changes before the answer: the old token does not delete it.
    assert client.post(f"/teams/{team_id}", data={
        "name": "Equipment", "kinds": ["new_lead"],
        "members": [NIKITINA, FEDOROV, SMIRNOVA]}).status_code == 302
    again = client.post(f"/teams/{team_id}/delete", data=fields)
    assert again.status_code == 200
    assert "3 members stop getting copies" in lines(again.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Team, team_id) is not None

    confirmed(client, f"/teams/{team_id}/delete")
    with app.app_context():
        assert db.session.get(Team, team_id) is None


def test_the_confirmation_and_the_progress_speak_russian(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        handover: tuple[int, int]) -> None:
    _, batch_id = handover
    hers = [key for key in owned_by(demo_sim, NIKITINA) if key[0] in ("deal", "company")]
    client.post("/language", data={"lang": "ru", "next": "/"})
    page, _ = asked(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    text = lines(page)
    assert text.startswith(f"Передать {len(hers)} элемент")
    assert "(2 вида): Ольга Никитина → Алексей Фёдоров?" in text
    assert "Они перейдут сейчас." in text and "Путь назад:" in text
    assert ">Отмена</a>" in page and "Подтвердить: передать" in page
    assert "<title>Подтверждение передачи" in page
    confirmed(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    shown = client.get(f"/handovers/{batch_id}").get_data(as_text=True)
    assert "<title>Передача клиентов: Ольга Никитина, " in shown
    assert f"передано: {len(hers)}" in shown and 'id="progress-percent">100\xa0%<' in shown


def test_items_left_with_others_are_told_about_and_given_back_anyway_once_confirmed(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        handover: tuple[int, int]) -> None:
    _, batch_id = handover
    # Discarding a preview asks first too.
    page, _ = asked(client, f"/handovers/{batch_id}/discard")
    assert lines(page).startswith("Discard the handover of ")
    assert _state(app, batch_id) == "preview"

    deal = next(key for key in sorted(owned_by(demo_sim, NIKITINA)) if key[0] == "deal")
    confirmed(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    demo_sim.call("crm.deal.update", {"id": deal[1], "fields": {"ASSIGNED_BY_ID": SMIRNOVA}})
    confirmed(client, f"/handovers/{batch_id}/restore")
    assert _state(app, batch_id) == "restored" and holders(demo_sim)[deal] == SMIRNOVA
    shown = client.get(f"/handovers/{batch_id}").get_data(as_text=True)
    assert 'id="conflicts"' in shown and "Елена Смирнова: 1" in shown

    def told() -> list[str]:
        return [n["message"] for n in inbox(demo_sim, NIKITINA)
                if (n["tag"] or "").startswith(f"portal_ext:summary:{batch_id}:conflicts")]

    page, _ = asked(client, f"/handovers/{batch_id}/tell-owner")
    assert "Tell Ольга Никитина about 1 item others hold?" in lines(page)
    assert "in Russian" in lines(page) and told() == []
    confirmed(client, f"/handovers/{batch_id}/tell-owner")
    [notice] = told()
    assert notice.startswith("1 из ваших") and "Елена Смирнова (1)" in notice  # her language
    again = confirmed(client, f"/handovers/{batch_id}/tell-owner", follow_redirects=True)
    assert "already told" in again.get_data(as_text=True) and len(told()) == 1

    page, _ = asked(client, f"/handovers/{batch_id}/give-back-anyway")
    assert "Give 1 item back to Ольга Никитина anyway?" in lines(page)
    assert "From Елена Смирнова: 1 item" in lines(page)
    assert holders(demo_sim)[deal] == SMIRNOVA
    confirmed(client, f"/handovers/{batch_id}/give-back-anyway")
    assert holders(demo_sim)[deal] == NIKITINA
    assert 'id="conflicts"' not in client.get(f"/handovers/{batch_id}").get_data(as_text=True)
    # Nothing left with others: the action changes nothing.
    demo_sim.call("crm.deal.update", {"id": deal[1], "fields": {"ASSIGNED_BY_ID": SMIRNOVA}})
    assert client.post(f"/handovers/{batch_id}/give-back-anyway").status_code == 302
    assert holders(demo_sim)[deal] == SMIRNOVA
