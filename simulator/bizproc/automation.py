"""The portal's automation rules: applications' robots placed on lead statuses and deal
stages, and their runs.

On the portal an administrator places robots in the automation editor (no REST method does
it, reference wave 2 §1.6); here the control plane does (``/_sim/bizproc/automation``,
:func:`place_robot`). When an item **enters** a status that has robots (an update whose
status changed to it, or an item created in it), each robot runs once: the portal makes an
event token, records the run and posts the robot's handler (form-encoded, PHP-style keys, as
its event webhooks), from a background thread, never retried:

``workflow_id``, ``code``, ``document_id[0..2]`` (``crm``, ``CCrmDocumentLead``,
``LEAD_12``), ``document_type[0..2]`` (``crm``, ``CCrmDocumentLead``, ``LEAD``),
``event_token``, ``properties[...]`` (the values set where the robot was placed),
``use_subscription``, ``timeout_duration``, ``ts`` and ``auth[...]`` (an access token of the
robot's ``AUTH_USER_ID``, else of the administrator, with the application's token).

A run waits for ``bizproc.event.send`` when the robot subscribes (simulator.bizproc.robots).
Skipping over a status (NEW straight to CONVERTED) runs only the robots of the status the
item lands on, as the portal's robots do.
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from sqlalchemy import select

from simulator import oauth
from simulator.bizproc import tables
from simulator.core.bus import SimEvent, flatten_form

if TYPE_CHECKING:
    from simulator.portal import Simulator

log = logging.getLogger(__name__)

# entity -> (document type triple, the item's status field, its events)
DOCUMENTS: dict[str, tuple[list[str], str, tuple[str, ...]]] = {
    "LEAD": (["crm", "CCrmDocumentLead", "LEAD"], "STATUS_ID",
             ("ONCRMLEADADD", "ONCRMLEADUPDATE")),
    "DEAL": (["crm", "CCrmDocumentDeal", "DEAL"], "STAGE_ID",
             ("ONCRMDEALADD", "ONCRMDEALUPDATE")),
}
_EVENTS = {name: entity for entity, (_t, _f, names) in DOCUMENTS.items() for name in names}
_STATUS = re.compile(r"^[A-Z0-9_:\-]{1,64}$")
TIMEOUT_DURATION = 0  # the portal's default: wait for the answer without a time limit
CACHE_SECONDS = 1.0  # how long a process trusts the placements it read (another may change them)

P, R = tables.placements, tables.robots


class PlacementError(ValueError):
    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


# -- placements --------------------------------------------------------------------------------
def place_robot(sim: Simulator, *, entity: str, status_id: str, code: str,
                client_id: str | None = None, properties: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
    """Put a registered robot on ``entity``'s ``status_id`` with ``properties``."""
    entity = str(entity or "").upper()
    if entity not in DOCUMENTS:
        raise PlacementError("entity", "entity must be lead or deal")
    if not isinstance(status_id, str) or not _STATUS.match(status_id):
        raise PlacementError("status_id", "status_id must be a status or stage id, e.g. "
                                          "IN_PROCESS")
    if properties is not None and not isinstance(properties, Mapping):
        raise PlacementError("properties", "properties must be an object")
    given = {str(k): v for k, v in (properties or {}).items()}
    with sim.engine.connect() as conn:
        query = select(R).where(R.c.code == code)
        if client_id:
            query = query.where(R.c.client_id == client_id)
        found = conn.execute(query).mappings().all()
    if not found:
        raise PlacementError("code", f"no application has a robot {code!r}")
    if len(found) > 1:
        raise PlacementError("client_id", f"several applications have a robot {code!r}: name "
                                          "the application (client_id)")
    robot = found[0]
    spec = robot["properties"] or {}
    for key in given:
        if key not in spec:
            raise PlacementError(f"properties.{key}", f"the robot has no property {key!r}")
    values: dict[str, Any] = {}
    for key, prop in spec.items():
        value = given.get(key, prop.get("Default"))
        if prop.get("Required") == "Y" and value in (None, ""):
            raise PlacementError(f"properties.{key}", f"the robot needs {key!r}")
        if value is not None:
            values[key] = value
    with sim._locked(), sim.engine.begin() as conn:
        placement_id = conn.execute(P.insert().values(
            entity=entity, status_id=status_id, robot_id=robot["id"], properties=values,
            created_at=sim.clock.now())).inserted_primary_key
    assert placement_id is not None
    forget_cache(sim)
    return {"id": int(placement_id[0]), "entity": entity, "status_id": status_id,
            "code": robot["code"], "client_id": robot["client_id"], "properties": values}


def remove_placement(sim: Simulator, placement_id: int) -> bool:
    with sim._locked(), sim.engine.begin() as conn:
        gone = conn.execute(P.delete().where(P.c.id == placement_id)).rowcount
    forget_cache(sim)
    return bool(gone)


def placements(sim: Simulator) -> list[dict[str, Any]]:
    """Every placement with its robot (the configuration per stage)."""
    with sim.engine.connect() as conn:
        rows = conn.execute(select(P, R.c.code, R.c.client_id, R.c.name, R.c.handler,
                                   R.c.use_subscription, R.c.properties.label("spec"))
                            .join(R, R.c.id == P.c.robot_id)
                            .order_by(P.c.entity, P.c.status_id, P.c.id)).mappings().all()
    return [{"id": r["id"], "entity": r["entity"], "status_id": r["status_id"],
             "code": r["code"], "client_id": r["client_id"], "name": r["name"],
             "handler": r["handler"], "use_subscription": r["use_subscription"],
             "properties": r["properties"], "spec": r["spec"]} for r in rows]


def runs(sim: Simulator, limit: int = 100) -> list[dict[str, Any]]:
    with sim.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(tables.runs).order_by(tables.runs.c.id.desc()).limit(limit)).mappings()]


def robots(sim: Simulator) -> list[dict[str, Any]]:
    with sim.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(R).order_by(R.c.id)).mappings()]


# -- entering a stage --------------------------------------------------------------------------
_CACHE: weakref.WeakKeyDictionary[Simulator, tuple[float, frozenset[tuple[str, str]]]] = \
    weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def forget_cache(sim: Simulator) -> None:
    with _CACHE_LOCK:
        _CACHE.pop(sim, None)


def _placed(sim: Simulator) -> frozenset[tuple[str, str]]:
    """``(entity, status)`` pairs that have robots, cached for :data:`CACHE_SECONDS`."""
    with _CACHE_LOCK:
        cached = _CACHE.get(sim)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
    with sim.engine.connect() as conn:
        found = frozenset((r.entity, r.status_id) for r in conn.execute(
            select(P.c.entity, P.c.status_id).distinct()))
    with _CACHE_LOCK:
        _CACHE[sim] = (time.monotonic(), found)
    return found


def on_event(sim: Simulator, event: SimEvent) -> None:
    """The bus's watcher (after commit): run the robots of the status an item entered."""
    entity = _EVENTS.get(event.name)
    if entity is None or event.entity_id is None:
        return
    placed = _placed(sim)
    if not any(kind == entity for kind, _status in placed):
        return
    event.resolve()
    field = DOCUMENTS[entity][1]
    after = (event.after or {}).get(field)
    before = (event.before or {}).get(field) if event.before else None
    if not after or after == before or (entity, str(after)) not in placed:
        return
    start_runs(sim, entity, int(event.entity_id), str(after))


def start_runs(sim: Simulator, entity: str, item_id: int, status_id: str) -> list[str]:
    """Start the runs of every robot placed on ``status_id``; returns their event tokens."""
    document_type = DOCUMENTS[entity][0]
    document_id = [document_type[0], document_type[1], f"{entity}_{item_id}"]
    with sim.engine.connect() as conn:
        rows = conn.execute(select(P.c.id, P.c.properties, R.c.id.label("robot_id"),
                                   R.c.client_id, R.c.code, R.c.handler, R.c.auth_user_id,
                                   R.c.use_subscription)
                            .join(R, R.c.id == P.c.robot_id)
                            .where(P.c.entity == entity, P.c.status_id == status_id)
                            .order_by(P.c.id)).mappings().all()
    tokens = []
    for row in rows:
        app = oauth.get_app(sim, row["client_id"])
        if app is None:
            continue
        tokens.append(_start(sim, dict(row), app, document_type, document_id))
    return tokens


def _start(sim: Simulator, row: dict[str, Any], app: dict[str, Any], document_type: list[str],
           document_id: list[str]) -> str:
    workflow_id = uuid.uuid4().hex[:24]
    token = (f"{secrets.token_hex(7)}.{secrets.randbelow(10**8):08d}|"
             f"A{secrets.randbelow(10**5)}_{secrets.randbelow(10**5)}|{secrets.token_urlsafe(24)}")
    now = sim.clock.now()
    waits = row["use_subscription"] != "N"
    with sim._locked(), sim.engine.begin() as conn:
        conn.execute(tables.runs.insert().values(
            event_token=token, workflow_id=workflow_id, robot_id=row["robot_id"],
            placement_id=row["id"], client_id=row["client_id"], code=row["code"],
            document_id=document_id, properties=row["properties"] or {},
            state="sent" if waits else "done", created_at=now))
    tokens = oauth.issue_tokens(sim, row["client_id"], int(row["auth_user_id"] or 1),
                                sim.portal_url)
    auth = {key: tokens[key] for key in ("access_token", "expires", "expires_in", "scope",
                                         "domain", "server_endpoint", "client_endpoint",
                                         "member_id", "user_id", "status")}
    auth["application_token"] = app["application_token"]
    payload = {"workflow_id": workflow_id, "code": row["code"], "document_id": document_id,
               "document_type": document_type, "event_token": token,
               "properties": row["properties"] or {}, "use_subscription": "Y" if waits else "N",
               "timeout_duration": str(TIMEOUT_DURATION),
               "ts": str(int(now.replace(tzinfo=UTC).timestamp())), "auth": auth}
    _outbox(sim).put(token, row["handler"], flatten_form(payload))
    return token


# -- delivery ----------------------------------------------------------------------------------
class Outbox:
    """Posts robot calls from one background thread, once each (no retries)."""

    def __init__(self, sim: Simulator) -> None:
        # Weakly: the delivery thread lives on, and must not keep a finished portal alive.
        self._sim = weakref.ref(sim)
        self._queue: queue.Queue[tuple[str, str, list[tuple[str, str]]]] = queue.Queue()
        self._pending = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, token: str, url: str, form: list[tuple[str, str]]) -> None:
        with self._cond:
            self._pending += 1
        self._queue.put((token, url, form))
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="sim-robots", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        session = requests.Session()
        while True:
            token, url, form = self._queue.get()
            sim = self._sim()
            if sim is None:
                return
            status: int | None = None
            error: str | None = None
            try:
                response = session.post(url, data=urlencode(form), headers={
                    "Content-Type": "application/x-www-form-urlencoded"},
                    timeout=sim.webhook_timeout)
                status = response.status_code
            except requests.RequestException as exc:
                error = str(exc)
                log.info("robot call to %s failed: %s", url, exc)
            try:
                self._record(sim, token, status, error)
            except Exception:  # the portal's record of a call must not stop the thread
                log.exception("recording a robot call failed")
            del sim
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    @staticmethod
    def _record(sim: Simulator, token: str, status: int | None, error: str | None) -> None:
        failed = error is not None or status is None or status >= 400
        runs_table = tables.runs
        with sim._locked(), sim.engine.begin() as conn:
            update = runs_table.update().where(runs_table.c.event_token == token).values(
                delivery_status=status, delivery_error=error)
            conn.execute(update)
            if failed:
                conn.execute(runs_table.update().where(
                    runs_table.c.event_token == token, runs_table.c.state == "sent")
                    .values(state="failed"))

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True


_OUTBOXES: weakref.WeakKeyDictionary[Simulator, Outbox] = weakref.WeakKeyDictionary()
_OUTBOX_LOCK = threading.Lock()


def _outbox(sim: Simulator) -> Outbox:
    with _OUTBOX_LOCK:
        box = _OUTBOXES.get(sim)
        if box is None:
            box = _OUTBOXES[sim] = Outbox(sim)
        return box


def flush(sim: Simulator, timeout: float = 10.0) -> bool:
    """Wait until every robot call queued has been attempted (tests, scenarios)."""
    return _outbox(sim).flush(timeout)


def attach(sim: Simulator) -> None:
    """Let the bus tell the automation about every committed change."""
    sim.bus.watch(lambda event: on_event(sim, event))
