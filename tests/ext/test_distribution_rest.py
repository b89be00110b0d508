"""Lead distribution in REST mode: the extension reaches the simulated portal over HTTP (its
webhook URL) and hears of the new lead through the portal's outbound event webhook, as with a
cloud portal. A visit report's writes travel in one ``batch`` request."""

from __future__ import annotations

import pytest

from portal_ext.distribution.models import VisitTask
from portal_ext.extensions import db
from tests.ext.absences_support import token
from tests.ext.distribution_support import new_lead, portal_deals, set_up_lines
from tests.ext.test_distribution import _portal_calls
from tests.ext.test_fanout_rest_mode import RestSetup, _settled, rest  # noqa: F401

pytestmark = pytest.mark.dated
REPRESENTATIVE = 7


def test_a_new_lead_gets_its_visit_task_and_its_report_writes_in_one_batch(
        rest: RestSetup, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    client = rest.app.test_client()
    admin = token(rest.app, 1)
    lines = set_up_lines(client, admin)
    assert client.put("/api/v1/distribution/settings", headers=admin, json={
        "visit_tasks": True, "representative_ids": [REPRESENTATIVE],
        "default_strategy": "least_loaded"}).status_code == 200
    lead = new_lead(rest.sim, "Over the wire")
    _settled(rest.sim)
    with rest.app.app_context():
        task = db.session.scalars(db.select(VisitTask).where(VisitTask.lead_id == lead)).one()
        assert task.representative_id == REPRESENTATIVE
    calls = _portal_calls(monkeypatch)
    rep = token(rest.app, REPRESENTATIVE)
    body = {"lead_id": lead, "lines": [line["id"] for line in lines]}
    response = client.post("/api/v1/visit-reports", headers=rep, json=body)
    assert response.status_code == 202, response.get_json()
    report = client.get(response.headers["Location"], headers=rep).get_json()
    assert report["state"] == "done" and len(report["deals"]) == 3
    writes = [m for m, p in calls if m != "batch" and m.split(".")[-1] in ("add", "update")]
    batches = [p["cmd"] for m, p in calls if m == "batch" and any(
        c.split("?")[0].rsplit(".", 1)[-1] in ("add", "update") for c in p["cmd"].values())]
    assert writes == ["crm.deal.userfield.add"]  # once per portal, before its first report
    assert len(batches) == 1
    assert sorted({c.split("?")[0] for c in batches[0].values()}) == [
        "crm.item.add", "crm.lead.update", "im.notify.system.add", "tasks.task.add"]
    # The lead, the loads, the run's look-up, the writes (the portal's webhooks about the new
    # deals make other features read on their own; those are not the report's).
    assert [m for m, _ in calls].count("batch") == 4
    again = client.post("/api/v1/visit-reports", headers=rep, json=body)
    assert again.status_code == 200 and again.get_json()["id"] == report["id"]
    assert len(portal_deals(rest.sim, report["id"])) == 3
    assert rest.sim.call("crm.lead.get", {"id": lead})["result"]["STATUS_ID"] == "CONVERTED"
