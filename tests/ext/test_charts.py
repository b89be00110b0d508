"""Charts on the report pages: one bar per kind (and per person) with the run's numbers, a
title and description for screen readers, the numbers in a table too, in either language;
copies per day on the deliveries page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext.charts import Point, bar_chart, stacked
from simulator import Simulator
from tests.clock import PORTAL_ZONE
from tests.ext.absences_support import ADMIN, EMAILS
from tests.ext.fanout_support import (
    FEDOROV,
    KUZNETSOV,
    NIKITINA,
    SMIRNOVA,
    WEEK,
    add_lead,
    record_absence,
)
from tests.ext.transfers_support import apply, create


def test_the_longest_bar_spans_the_plot_and_the_others_are_in_proportion() -> None:
    chart = bar_chart("c", "Items per kind", "How many.",
                      [Point("deal", "Deals", 12), Point("contact", "Contacts", 48),
                       Point("lead", "Leads", 0)])
    assert [(b.key, b.value) for b in chart.bars] == [("deal", 12), ("contact", 48), ("lead", 0)]
    assert chart.bars[1].width == pytest.approx(chart.plot_width)
    assert chart.bars[0].width == pytest.approx(chart.plot_width / 4)
    assert chart.bars[2].width == 0
    days = bar_chart("d", "Per day", "", [Point(str(n), str(n), n) for n in range(30)],
                     layout="columns")
    assert days.bars[-1].height == pytest.approx(days.plot_height)
    assert all(a.x < b.x for a, b in zip(days.bars, days.bars[1:], strict=False))
    assert bar_chart("e", "Nothing", "", [Point("a", "A", 0)]).empty


def test_a_stacked_bar_is_its_segments_end_to_end_with_a_legend() -> None:
    def outcomes(accepted: int, vetoed: int) -> list[tuple[str, str, int]]:
        return [("accepted", "Accepted", accepted), ("vetoed", "Vetoed", vetoed)]

    chart = bar_chart("s", "Per manager", "", [stacked("5", "A. Ivanova", outcomes(3, 1)),
                                              stacked("7", "B. Petrov", outcomes(0, 2))],
                      patterns={"vetoed": 3})
    ivanova, petrov = chart.bars
    assert (ivanova.value, petrov.value, chart.total) == (4, 2, 6)
    assert ivanova.width == pytest.approx(chart.plot_width)  # the largest bar spans the plot
    for bar in chart.bars:
        assert sum(s.width for s in bar.segments) == pytest.approx(bar.width)
        assert bar.segments[0].x == bar.x
        assert all(a.x + a.width == pytest.approx(b.x)
                   for a, b in zip(bar.segments, bar.segments[1:], strict=False))
    assert ivanova.segments[1].width == pytest.approx(chart.plot_width / 4)
    assert [(e.key, e.label, e.pattern, e.total) for e in chart.legend] == [
        ("accepted", "Accepted", 0, 3), ("vetoed", "Vetoed", 3, 3)]
    assert petrov.segment("vetoed") == 2 and petrov.segment("nothing") == 0
    days = bar_chart("d", "", "", [stacked("1", "1", outcomes(1, 1)),
                                   stacked("2", "2", outcomes(2, 2))], layout="columns")
    tall = days.bars[1]
    assert tall.height == pytest.approx(days.plot_height)
    assert sum(s.height for s in tall.segments) == pytest.approx(tall.height)
    assert tall.segments[-1].y == pytest.approx(tall.y)  # the last segment on top
    with pytest.raises(ValueError):
        bar_chart("x", "", "", [Point("a", "A", 5, segments=(("k", "K", 1),))])


def figure(html: str, chart_id: str) -> str:
    found = re.search(rf'<figure class="chart[^"]*" id="{chart_id}".*?</figure>', html, re.S)
    assert found, f"no chart {chart_id}"
    return found.group(0)


def bars(html: str) -> dict[str, int]:
    """The SVG's bars: key -> the number it stands for."""
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg
    return {key: int(value) for key, value in re.findall(
        r'<g class="chart-bar" data-key="([^"]+)" data-value="(\d+)">', svg.group(0))}


def table(html: str) -> dict[str, str]:
    """The numbers table beside the chart: key -> the number as printed."""
    details = re.search(r"<details.*?</details>", html, re.S)
    assert details
    return dict(re.findall(r'<tr data-key="([^"]+)"><th scope="row">[^<]*</th>'
                           r'<td class="count">([^<]+)</td>', details.group(0)))


def hand_over(client: FlaskClient, auth: dict[str, str], absence_id: int,
              types: list[str]) -> dict[str, Any]:
    answer = client.post("/api/v1/handovers", headers=auth, json={
        "absence_id": absence_id, "types": types, "include_closed": True})
    assert answer.status_code == 201, answer.get_json()
    batch_id = answer.get_json()["id"]
    assert client.post(f"/api/v1/handovers/{batch_id}/apply", headers=auth).status_code == 202
    body: dict[str, Any] = client.get(f"/api/v1/handovers/{batch_id}", headers=auth).get_json()
    assert body["state"] == "applied"
    return body


@pytest.mark.dated
def test_a_handover_page_charts_each_kind_with_its_number_in_both_languages(
        app: Flask, client: FlaskClient, t0: datetime, admin: dict[str, str],
        login_as: Any) -> None:
    types = ["lead", "deal", "contact", "company"]
    absence_id = record_absence(app, NIKITINA, FEDOROV, t0 - timedelta(hours=1),
                                t0 + timedelta(days=14), now=t0 - timedelta(hours=1))
    body = hand_over(client, admin, absence_id, types)
    moved = {name: body["counts"][name]["moved"] for name in types}
    assert sum(moved.values()) > 0
    browser = app.test_client()
    login_as(browser, EMAILS[ADMIN])

    page = browser.get(f"/handovers/{body['id']}").get_data(as_text=True)
    chart = figure(page, f"chart-kinds-{body['id']}")
    assert bars(chart) == moved
    assert {k: int(v.replace("\u00a0", "")) for k, v in table(chart).items()} == moved
    assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="[^"]*-title [^"]*-desc"', chart)
    assert "<title" in chart and "Items per kind" in chart and "The numbers" in chart

    browser.post("/language", data={"lang": "ru"})
    page = browser.get(f"/handovers/{body['id']}").get_data(as_text=True)
    chart = figure(page, f"chart-kinds-{body['id']}")
    assert bars(chart) == moved
    assert "Объекты по видам" in chart and "Числа" in chart and "Сделки" in chart


@pytest.mark.dated
def test_a_transfer_page_charts_each_kind_and_each_successor(
        app: Flask, client: FlaskClient, demo_sim: Simulator, admin: dict[str, str],
        login_as: Any) -> None:
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    batch_id = create(app, user_id=NIKITINA, strategy="spread",
                      successors=[FEDOROV, SMIRNOVA, KUZNETSOV], types=["deal", "lead"])
    apply(app, batch_id)
    browser = app.test_client()
    login_as(browser, EMAILS[ADMIN])
    api = client.get(f"/api/v1/transfers/{batch_id}", headers=admin).get_json()

    page = browser.get(f"/transfers/{batch_id}").get_data(as_text=True)
    kinds = bars(figure(page, f"chart-kinds-{batch_id}"))
    assert set(kinds) == {"deal", "lead"} and sum(kinds.values()) > 0
    people = bars(figure(page, f"chart-people-{batch_id}"))
    assert people == {uid: sum(got.values()) for uid, got in api["per_successor"].items()}
    assert sum(people.values()) == sum(kinds.values())
    assert len(people) > 1


@pytest.mark.dated
def test_the_deliveries_page_charts_copies_per_day_over_thirty_days(
        app: Flask, demo_sim: Simulator, t0: datetime, login_as: Any) -> None:
    record_absence(app, NIKITINA, FEDOROV, t0 - timedelta(hours=1), t0 + WEEK,
                   now=t0 - timedelta(hours=2))
    add_lead(demo_sim, "Excavator", NIKITINA)
    add_lead(demo_sim, "Grader", NIKITINA)
    browser = app.test_client()
    login_as(browser, EMAILS[ADMIN])

    page = browser.get("/deliveries").get_data(as_text=True)
    chart = figure(page, "chart-deliveries")
    days = bars(chart)
    assert len(days) == 30
    today = t0.replace(tzinfo=UTC).astimezone(PORTAL_ZONE).date().isoformat()
    assert list(days)[-1] == today and days[today] == 2
    assert sum(days.values()) == 2
    assert re.search(rf'<tr data-key="{today}"><th scope="row">[^<]+</th>'
                     r'<td class="count">2</td><td class="count">0</td>', page)
