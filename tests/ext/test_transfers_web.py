"""Transfers through the pages (an administrator logged in through the portal) and through
``/api/v1/transfers``: preview, confirm, report, undo; refusals name the field and change
nothing; only administrators get in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext.portal.client import PortalClient
from simulator import Simulator
from tests.ext.confirm_support import asked, confirmed, lines
from tests.ext.test_api import bearer, create_token, json_of
from tests.ext.transfers_support import (
    EQUIPMENT_HEAD,
    FEDOROV,
    KUZNETSOV,
    NIKITINA,
    SMIRNOVA,
    holdings,
)

pytestmark = pytest.mark.dated

ADMIN_EMAIL, HEAD_EMAIL = "admin@demo.portal", "s.morozov@demo.portal"


def post_json(client: FlaskClient, path: str, token: str, body: Any = None) -> Any:
    return client.post(path, headers=bearer(token), json=body if body is not None else {})


# -- API ----------------------------------------------------------------------------------------
def test_api_preview_apply_get_and_undo(app: Flask, client: FlaskClient,
                                        demo_sim: Simulator) -> None:
    token = create_token(app, ADMIN_EMAIL)
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    before = holdings(demo_sim, NIKITINA)

    created = post_json(client, "/api/v1/transfers", token, {
        "user_id": NIKITINA, "strategy": "per_type",
        "successors": {"deal": FEDOROV, "lead": SMIRNOVA, "company": FEDOROV}})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["state"], body["types"]) == ("preview", ["lead", "deal", "company"])
    assert body["counts"] == {t: before[t] for t in ("lead", "deal", "company")}
    assert body["per_successor"] == {
        str(FEDOROV): {"deal": before["deal"], "company": before["company"]},
        str(SMIRNOVA): {"lead": before["lead"]}}
    assert holdings(demo_sim, NIKITINA) == before

    applied = post_json(client, f"/api/v1/transfers/{body['id']}/apply", token)
    assert applied.status_code == 202
    got = json_of(client.get(f"/api/v1/transfers/{body['id']}", headers=bearer(token)))
    assert (got["state"], got["progress"]["percent"], got["can_undo"]) == ("applied", 100.0,
                                                                          True)
    assert {t: n for t, n in holdings(demo_sim, NIKITINA).items() if n} == {
        t: n for t, n in before.items() if n and t not in ("lead", "deal", "company")}

    again = post_json(client, f"/api/v1/transfers/{body['id']}/apply", token)
    assert (again.status_code, again.json["error"]["code"]) == (409, "conflict")

    undone = post_json(client, f"/api/v1/transfers/{body['id']}/undo", token)
    assert undone.status_code == 202
    assert undone.json["state"] == "restored"
    assert holdings(demo_sim, NIKITINA) == before


def test_api_refusals_name_the_field_and_change_nothing(app: Flask, client: FlaskClient,
                                                        demo_sim: Simulator) -> None:
    token = create_token(app, ADMIN_EMAIL)
    demo_sim.call("user.update", {"ID": KUZNETSOV, "ACTIVE": "N"})
    before = holdings(demo_sim, NIKITINA)
    cases = [
        ({"strategy": "person", "successors": FEDOROV}, 422, "user_id"),
        ({"user_id": 999, "strategy": "person", "successors": FEDOROV}, 422, "user_id"),
        ({"user_id": NIKITINA, "strategy": "person", "successors": KUZNETSOV}, 422,
         "successors"),
        ({"user_id": NIKITINA, "strategy": "spread", "successors": []}, 422, "successors"),
        ({"user_id": NIKITINA, "strategy": "person", "successors": FEDOROV, "types": []}, 422,
         "types"),
        ({"user_id": NIKITINA, "strategy": "person", "successors": "Fedorov"}, 422,
         "successors"),
        ({"user_id": NIKITINA, "strategy": "sideways"}, 422, "strategy"),
        ({"user_id": NIKITINA, "strategy": "head", "colour": "red"}, 400, "colour"),
    ]
    for body, status, field in cases:
        response = post_json(client, "/api/v1/transfers", token, body)
        assert (response.status_code, response.json["error"]["field"]) == (status, field), body
    assert holdings(demo_sim, NIKITINA) == before
    first = post_json(client, "/api/v1/transfers", token,
                      {"user_id": NIKITINA, "strategy": "head", "types": ["deal"]})
    assert first.status_code == 201
    second = post_json(client, "/api/v1/transfers", token,
                       {"user_id": NIKITINA, "strategy": "head", "types": ["deal"]})
    assert (second.status_code, second.json["error"]["code"]) == (409, "conflict")
    missing = client.get("/api/v1/transfers/9999", headers=bearer(token))
    assert missing.status_code == 404


def test_api_is_for_administrators_only(app: Flask, client: FlaskClient) -> None:
    token = create_token(app, HEAD_EMAIL)
    response = post_json(client, "/api/v1/transfers", token,
                         {"user_id": NIKITINA, "strategy": "head"})
    assert response.status_code == 403


def test_openapi_describes_the_transfer_routes(client: FlaskClient) -> None:
    paths = json_of(client.get("/api/v1/openapi.json"))["paths"]
    assert {"/transfers", "/transfers/{transfer_id}", "/transfers/{transfer_id}/apply",
            "/transfers/{transfer_id}/undo"} <= set(paths)


# -- pages --------------------------------------------------------------------------------------
def test_a_dismissed_user_waits_then_is_transferred_from_the_pages(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: Any) -> None:
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    login_as(client, ADMIN_EMAIL)
    page = client.get("/transfers/").get_data(as_text=True)
    assert f'id="dismissal-{NIKITINA}"' in page and "Ольга Никитина" in page

    form = client.get(f"/transfers/new?user={NIKITINA}")
    assert form.status_code == 200
    preview = client.post("/transfers/new", data={
        "user_id": NIKITINA, "strategy": "head", "types": ["deal", "company", "activity"],
        "include_closed": "y"})
    assert preview.status_code == 302
    show = client.get(preview.headers["Location"]).get_data(as_text=True)
    assert f'data-successor="{EQUIPMENT_HEAD}"' in show and 'id="confirm-form"' in show

    done = confirmed(client, preview.headers["Location"] + "/apply", follow_redirects=True)
    text = done.get_data(as_text=True)
    assert 'id="report"' in text and 'id="undo-form"' in text
    assert {t: n for t, n in holdings(demo_sim, NIKITINA).items()
            if t in ("deal", "company", "activity")} == {"deal": 0, "company": 0, "activity": 0}
    index = client.get("/transfers/").get_data(as_text=True)
    assert f'id="dismissal-{NIKITINA}"' not in index
    listed = index.split('id="transfers"', 1)[1].split("</table>", 1)[0]
    assert preview.headers["Location"].rsplit("/", 1)[1] in listed and "Ольга Никитина" in listed


def test_a_dismissed_user_with_nothing_to_transfer_is_taken_off_the_list(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    login_as(client, ADMIN_EMAIL)
    before = holdings(demo_sim, NIKITINA)
    batches: list[int] = []
    run_batch = PortalClient.run_batch

    def counted(self: PortalClient, commands: Any, *args: Any, **kwargs: Any) -> Any:
        batches.append(len(commands))
        return run_batch(self, commands, *args, **kwargs)

    monkeypatch.setattr(PortalClient, "run_batch", counted)
    page = client.get("/transfers/").get_data(as_text=True)
    # What each dismissed person still holds, per kind, read in one batch for everyone.
    row = page.split(f'id="dismissal-{NIKITINA}"', 1)[1].split("</tr>", 1)[0]
    assert f'data-total="{sum(before.values())}"' in row and f"Deals {before['deal']}" in row
    assert len(batches) == 1
    found = re.search(r'action="(/transfers/dismissals/\d+/close)"', row)
    assert found is not None

    asked_page, _fields = asked(client, found.group(1))
    assert (f"Ольга Никитина still holds {sum(before.values())} items; they stay with "
            "Ольга Никитина." in lines(asked_page))
    closed = confirmed(client, found.group(1), follow_redirects=True).get_data(as_text=True)
    assert "Taken off the list." in closed and f'id="dismissal-{NIKITINA}"' not in closed
    again = client.post(found.group(1), follow_redirects=True).get_data(as_text=True)
    assert "Taken off the list." not in again and f'id="dismissal-{NIKITINA}"' not in again
    assert holdings(demo_sim, NIKITINA) == before
    assert client.post("/transfers/dismissals/9999/close").status_code == 404


def test_the_form_shows_the_error_by_the_field(app: Flask, client: FlaskClient,
                                                demo_sim: Simulator, login_as: Any) -> None:
    demo_sim.call("user.update", {"ID": KUZNETSOV, "ACTIVE": "N"})
    login_as(client, ADMIN_EMAIL)
    response = client.post("/transfers/new", data={
        "user_id": NIKITINA, "strategy": "person", "successor_id": KUZNETSOV,
        "types": ["deal"]})
    assert response.status_code == 422
    assert "is dismissed and cannot take over items" in response.get_data(as_text=True)


def test_settings_page_switches_automatic_mode_on(app: Flask, client: FlaskClient,
                                                   login_as: Any) -> None:
    login_as(client, ADMIN_EMAIL)
    saved = client.post("/transfers/settings", data={
        "on_dismissal": "confirm", "auto_mode": "y", "strategy": "head", "successor_id": 0,
        "include_closed": "y"})
    assert saved.status_code == 302
    page = client.get("/transfers/").get_data(as_text=True)
    assert "Automatic change of responsible is on" in page
    refused = client.post("/transfers/settings", data={
        "on_dismissal": "confirm", "strategy": "person", "successor_id": 0})
    assert refused.status_code == 422


def test_transfer_pages_are_for_administrators(app: Flask, client: FlaskClient,
                                               login_as: Any) -> None:
    login_as(client, HEAD_EMAIL)
    assert client.get("/transfers/").status_code == 403
    assert client.get("/transfers/settings").status_code == 403


def test_a_spread_is_adjusted_in_the_preview_and_applied_exactly(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: Any) -> None:
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    login_as(client, ADMIN_EMAIL)
    held = {t: n for t, n in holdings(demo_sim, NIKITINA).items() if t in ("deal", "company")}
    people = [SMIRNOVA, FEDOROV, KUZNETSOV]
    before = {uid: holdings(demo_sim, uid) for uid in people}
    preview = client.post("/transfers/new", data={
        "user_id": NIKITINA, "strategy": "spread", "successor_ids": people,
        "types": ["deal", "company"], "include_closed": "y"})
    assert preview.status_code == 302, preview.get_data(as_text=True)[-800:]
    url = preview.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert 'id="split-form"' in page and f'name="split-{SMIRNOVA}-deal"' in page

    # Two bad numbers at once: both are shown under their inputs, what was typed is kept.
    bad = client.post(url + "/split", data={
        f"split-{SMIRNOVA}-deal": "-1", f"split-{FEDOROV}-deal": "0",
        f"split-{KUZNETSOV}-deal": str(held["deal"]), f"split-{SMIRNOVA}-company": "abc",
        f"split-{FEDOROV}-company": "0", f"split-{KUZNETSOV}-company": "0"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert text.count("Give a whole number from 0 to") == 2
    assert f'id="split-{SMIRNOVA}-company" value="abc"' in text

    # Columns that do not add up name the type.
    short = client.post(url + "/split", data={
        f"split-{SMIRNOVA}-deal": "0", f"split-{FEDOROV}-deal": "0",
        f"split-{KUZNETSOV}-deal": "0", f"split-{SMIRNOVA}-company": str(held["company"]),
        f"split-{FEDOROV}-company": "0", f"split-{KUZNETSOV}-company": "0"})
    assert short.status_code == 422
    assert f"Deals: 0 given out of {held['deal']}" in short.get_data(as_text=True)

    # Every deal to Smirnova, every company to Fedorov, nothing to Kuznetsov.
    split = {f"split-{SMIRNOVA}-deal": str(held["deal"]), f"split-{FEDOROV}-deal": "0",
             f"split-{KUZNETSOV}-deal": "0", f"split-{SMIRNOVA}-company": "0",
             f"split-{FEDOROV}-company": str(held["company"]),
             f"split-{KUZNETSOV}-company": "0"}
    assert client.post(url + "/split", data=split).status_code == 302
    page, _fields = asked(client, url + "/apply")
    said = lines(page)
    assert f"Елена Смирнова: {held['deal']} items (Deals: {held['deal']})" in said, said
    assert "to 2 people?" in said
    confirmed(client, url + "/apply")
    after = {uid: holdings(demo_sim, uid) for uid in people}
    assert after[SMIRNOVA]["deal"] - before[SMIRNOVA]["deal"] == held["deal"]
    assert after[FEDOROV]["company"] - before[FEDOROV]["company"] == held["company"]
    assert after[KUZNETSOV] == before[KUZNETSOV]
