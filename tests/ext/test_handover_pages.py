"""The handover pages and the CLI as people use them: the preview needs an explicit
confirmation, the report counts what moved, a head of another department is refused, the
pages speak Russian, the command line shows a progress bar, and long handovers run as a chain
of short jobs."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext.extensions import db
from portal_ext.moves import tasks
from portal_ext.moves.models import MoveBatch
from simulator import Simulator
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    LIFT_HEAD,
    NIKITINA,
    freeze,
    start_of_hour,
)
from tests.ext.confirm_support import asked, confirmed, lines
from tests.ext.handover_support import holders, owned_by, record_absence
from tests.ext.oauth_login import LoginAs

pytestmark = pytest.mark.dated


@pytest.fixture
def absence_id(app: Flask, demo_sim: Simulator, client: FlaskClient) -> int:
    t0 = start_of_hour(demo_sim)
    freeze(client, t0)
    return record_absence(app, user=NIKITINA, deputy=FEDOROV, start=t0,
                          end=t0 + timedelta(days=5))


def preview(client: FlaskClient, absence_id: int, types: list[str]) -> int:
    answer: Any = client.post(f"/handovers/new?absence={absence_id}",
                              data={"types": types, "include_closed": "y"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def text(client: FlaskClient, path: str) -> str:
    answer: Any = client.get(path)
    assert answer.status_code == 200, answer.status_code
    page: str = answer.get_data(as_text=True)
    return page


def test_an_admin_previews_confirms_and_reads_the_report(
        app: Flask, client: FlaskClient, login_as: LoginAs, demo_sim: Simulator,
        absence_id: int) -> None:
    login_as(client, EMAILS[ADMIN])
    assert f'href="/handovers/new?absence={absence_id}"' in text(client, "/handovers/")
    form = text(client, f"/handovers/new?absence={absence_id}")
    assert "Алексей Фёдоров" in form and 'value="smart_invoice"' in form
    before = holders(demo_sim)
    batch_id = preview(client, absence_id, ["deal", "company"])
    page = text(client, f"/handovers/{batch_id}")
    deals = len([k for k in owned_by(demo_sim, NIKITINA) if k[0] == "deal"])
    companies = len([k for k in owned_by(demo_sim, NIKITINA) if k[0] == "company"])
    assert re.search(rf'data-type="deal">\s*<td>Deals</td>\s*<td class="count">{deals}<', page)
    assert f'id="preview-total">{deals + companies}<' in page

    question, _ = asked(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    assert (f"Hand over {deals + companies} items of 2 kinds from Ольга Никитина to "
            f"Алексей Фёдоров?") in lines(question)
    assert holders(demo_sim) == before
    confirmed(client, f"/handovers/{batch_id}/apply", {"start": "now"})
    page = text(client, f"/handovers/{batch_id}")
    assert "with the deputy" in page
    assert f'<td class="moved">{deals}</td>' in page
    progress = client.get(f"/handovers/{batch_id}/progress").get_json()
    assert (progress["percent"], progress["done"]) == (100, deals + companies)

    confirmed(client, f"/handovers/{batch_id}/restore")
    page = text(client, f"/handovers/{batch_id}")
    assert "given back" in page and f'<td class="restored">{deals}</td>' in page
    assert holders(demo_sim) == before
    listed = text(client, "/handovers/").split('id="handovers"', 1)[1].split("</table>", 1)[0]
    assert f'href="/handovers/{batch_id}"' in listed and "Алексей Фёдоров" in listed
    assert f"<td>{deals + companies}</td>" in listed


def test_a_head_of_another_department_is_refused(
        app: Flask, client: FlaskClient, login_as: LoginAs, absence_id: int) -> None:
    login_as(client, EMAILS[ADMIN])
    batch_id = preview(client, absence_id, ["deal"])
    client.post("/auth/logout")
    login_as(client, EMAILS[LIFT_HEAD])
    assert client.get(f"/handovers/{batch_id}").status_code == 403
    assert client.post(f"/handovers/{batch_id}/apply",
                       data={"start": "now"}).status_code == 403
    assert client.post(f"/handovers/new?absence={absence_id}",
                       data={"types": ["deal"]}).status_code == 403
    login_as(client, EMAILS[FEDOROV])  # an employee: no handover pages at all
    assert client.get("/handovers/").status_code == 403


def test_the_pages_speak_russian(
        app: Flask, client: FlaskClient, login_as: LoginAs, absence_id: int) -> None:
    client.post("/language", data={"lang": "ru", "next": "/"})
    login_as(client, EMAILS[ADMIN])
    batch_id = preview(client, absence_id, ["deal", "task"])
    page = text(client, f"/handovers/{batch_id}")
    assert "Предпросмотр: что будет передано" in page and "Сделки" in page
    assert "Передать" in page and "Preview" not in page
    assert "Передача клиентов" in text(client, "/handovers/")


def test_the_command_line_moves_with_a_progress_bar(
        app: Flask, demo_sim: Simulator, absence_id: int) -> None:
    from portal_ext.handover.services import preview_handover
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal

    with app.app_context():
        portal = current_portal()
        batch = preview_handover(portal=portal, client=client_for(portal), actor=None,
                                 absence_id=absence_id, types=["company", "deal"],
                                 include_closed=True, now=host_utcnow())
        batch_id, total = batch.id, sum(batch.counts.values())
    hers = {key for key in owned_by(demo_sim, NIKITINA) if key[0] in ("company", "deal")}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["handover", "apply", str(batch_id), "--yes"])
    assert result.exit_code == 0, result.output
    assert "handing over" in result.output and "100%" in result.output
    status = json.loads(result.output.strip().splitlines()[-1])
    assert (status["state"], status["done"], status["total"]) == ("applied", total, total)
    now_held = holders(demo_sim)
    assert hers and {now_held[key] for key in hers} == {FEDOROV}
    result = runner.invoke(args=["handover", "restore", str(batch_id)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["state"] == "restored"
    now_held = holders(demo_sim)
    assert {now_held[key] for key in hers} == {NIKITINA}
    again = runner.invoke(args=["handover", "apply", str(batch_id), "--yes"])
    assert again.exit_code != 0 and "restored" in again.output


def test_a_long_handover_runs_as_a_chain_of_short_jobs(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from portal_ext.handover.services import apply_handover, preview_handover
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal

    app.config.update(HANDOVER_CHUNK_SIZE=60, HANDOVER_JOB_SECONDS=0.0)
    runs: list[int] = []
    real = tasks._work

    def counted(batch_id: int, state: str) -> int:
        runs.append(batch_id)
        return real(batch_id, state)

    monkeypatch.setattr(tasks, "_work", counted)
    with app.app_context():
        portal = current_portal()
        batch = preview_handover(portal=portal, client=client_for(portal), actor=None,
                                 absence_id=absence_id, types=["activity"],
                                 include_closed=True, now=host_utcnow())
        total = sum(batch.counts.values())
        apply_handover(batch=batch, actor=None, confirmed=True, now=host_utcnow())
        state = db.session.get(MoveBatch, batch.id).state  # type: ignore[union-attr]
    assert state == "applied"
    # One job per chunk of 60, each queueing the next, and a last one finding nothing left.
    assert len(runs) == -(-total // 60) + 1


def test_the_api_is_described(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"/handovers", "/handovers/{handover_id}", "/handovers/{handover_id}/apply",
            "/handovers/{handover_id}/restore"} <= set(document["paths"])
    assert "HandoverInput" in document["components"]["schemas"]

