"""``batch``: up to 50 REST calls in one request (docs: settings/how-to-call-rest-api/batch.md).

- ``cmd`` is an object (named commands) or an array; each command is ``"method?query"`` with a
  PHP-style, URL-encoded query. Parameters whose names start with ``__`` are dropped: they are
  client bookkeeping (fast_bitrix24 adds ``__order``), and no portal parameter looks like that.
- ``halt`` (0/1, true/false, Y/N) stops at the first failed command.
- More than 50 commands: the whole call fails with HTTP 400 ``ERROR_BATCH_LENGTH_EXCEEDED``.
  A nested ``batch`` fails only that command, with ``ERROR_BATCH_METHOD_NOT_ALLOWED`` (the docs
  list it among the per-method errors; the batch itself answers 200 as always).
- ``$result[cmd][field][0]`` (also ``$error``, ``$total``, ``$next``, ``$time``) is replaced by
  that part of an earlier command's answer, in values and keys at any depth. A parameter that
  is exactly one reference takes the referenced value as it is (a list stays a list); a
  reference inside longer text is replaced only by a scalar. A reference that does not resolve
  stays as written (the portal substitutes the deepest value it found; no client relies on it).
- The commands run as the calling user in ONE transaction (``Simulator.commands``), each in
  its own savepoint: a command that fails leaves nothing of itself, the others stand (the
  earlier ones and, without ``halt``, the later ones). Events are published once the whole
  request has committed, in the commands' order.
- Over HTTP each command is checked against, and counted in, its own method's operating time
  (limits.md): a method over its limit fails that command with ``OPERATION_TIME_LIMIT`` in
  ``result_error`` while the others run. The outer ``batch`` is not counted.
- The answer's sections follow PHP's serialisation: an empty one is ``[]``, one keyed 0..n-1
  (an array ``cmd``) is a list, anything else an object (see simulator.core.phpquery.php_array).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simulator.core import phpquery
from simulator.core.errors import (
    BatchBadCommand,
    BatchLengthExceeded,
    BatchMethodNotAllowed,
    BatchNotCommands,
    SimError,
)
from simulator.core.ratelimit import OVER_HTTP, limits_for, time_figures
from simulator.core.registry import method

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

log = logging.getLogger(__name__)

MAX_COMMANDS = 50
_SECTIONS = ("result", "error", "total", "next", "time")
_REFERENCE = re.compile(r"\$(result|error|total|next|time)((?:\[[^\[\]]*\])+)", re.IGNORECASE)
_PATH_KEY = re.compile(r"\[([^\[\]]*)\]")
_FALSE_FLAGS = {"", "0", "n", "false", "no"}


def _commands(raw: Any) -> list[tuple[str, str]]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [(str(i), v) for i, v in enumerate(raw)]
    else:
        raise BatchNotCommands()
    for key, command in items:
        if not isinstance(command, str) or not command.split("?", 1)[0].strip():
            raise BatchBadCommand(key=key)
    return items


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value if value is not None else "").strip().lower() not in _FALSE_FLAGS


def _lookup(sections: dict[str, dict[str, Any]], section: str, path: list[str]) -> tuple[bool, Any]:
    node: Any = sections[section.lower()]
    for key in path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and re.fullmatch(r"\d+", key) and int(key) < len(node):
            node = node[int(key)]
        else:
            return False, None
    return True, node


def _as_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _substitute_text(text: str, sections: dict[str, dict[str, Any]]) -> Any:
    matches = list(_REFERENCE.finditer(text))
    if not matches:
        return text
    if len(matches) == 1 and matches[0].group(0) == text:
        found, value = _lookup(sections, matches[0].group(1), _PATH_KEY.findall(text))
        return value if found else text

    def replace(match: re.Match[str]) -> str:
        found, value = _lookup(sections, match.group(1), _PATH_KEY.findall(match.group(2)))
        as_text = _as_text(value) if found else None
        return match.group(0) if as_text is None else as_text

    return _REFERENCE.sub(replace, text)


def _substitute(value: Any, sections: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, str):
        return _substitute_text(value, sections)
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, inner in value.items():
            new_key = _substitute_text(key, sections) if isinstance(key, str) else key
            result[new_key if isinstance(new_key, str) else key] = _substitute(inner, sections)
        return result
    if isinstance(value, list):
        return [_substitute(inner, sections) for inner in value]
    return value


def _method_name(command: str) -> tuple[str, str]:
    name, _, query = command.partition("?")
    return name.strip(), query


@method("batch", transactional=False)
def batch(ctx: Ctx, params: Params) -> dict[str, Any]:
    commands = _commands(params.get("cmd"))
    if len(commands) > MAX_COMMANDS:
        raise BatchLengthExceeded()
    halt = _flag(params.get("halt"))
    sim = ctx.sim
    limits = limits_for(sim)
    meter = limits.operating
    over_http = OVER_HTTP.get()  # in-process batches are neither limited nor counted
    config = limits.config() if over_http else None
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    timings: list[tuple[str, datetime, float, str]] = []

    with sim.commands(ctx.user_id) as runner:
        for key, command in commands:
            name, query = _method_name(command)
            folded = name.lower().removesuffix(".json")
            started_at = runner.clock()
            began = time.perf_counter()
            try:
                if folded == "batch":
                    raise BatchMethodNotAllowed()
                if config is not None:
                    limits.check_operating(folded, config)
                args = {k: v for k, v in phpquery.parse(query).items() if not k.startswith("__")}
                if "$" in query or "%24" in query:  # a reference, maybe (``$`` may be encoded)
                    args = _substitute(args, sections)
                envelope = runner.call(name, args)
            except SimError as error:
                sections["error"][key] = error.as_dict()
                if halt:
                    break
                continue
            except Exception:
                log.exception("batch command %s (%s) failed", key, name)
                sections["error"][key] = {"error": "INTERNAL_SERVER_ERROR",
                                          "error_description": "Internal server error"}
                if halt:
                    break
                continue
            elapsed = time.perf_counter() - began
            if over_http:
                meter.record(folded, elapsed)
            sections["result"][key] = envelope.get("result")
            if "total" in envelope:
                sections["total"][key] = envelope["total"]
            if "next" in envelope:
                sections["next"][key] = envelope["next"]
            timings.append((key, started_at, elapsed, folded))

    zone = ctx.tz
    for key, started_at, elapsed, folded in timings:
        sections["time"][key] = time_figures(sim, started_at, duration=elapsed,
                                             processing=elapsed, operating=meter.total(folded),
                                             tz=zone)

    return {
        "result": phpquery.php_array(sections["result"]),
        "result_error": phpquery.php_array(sections["error"]),
        "result_total": phpquery.php_array(sections["total"]),
        "result_next": phpquery.php_array(sections["next"]),
        "result_time": phpquery.php_array(sections["time"]),
    }
