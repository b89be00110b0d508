"""How a call reaches the portal. Both transports take ``(method, params)`` and return the
portal's envelope (``result`` plus ``total``/``next`` for lists), or raise PortalError.

- :class:`InProcessTransport` calls the dispatch callable the composition root gives
  (config ``PORTAL_DISPATCH``), e.g. the bundled simulator's dispatcher.
- :class:`HttpTransport` posts to an incoming-webhook URL through fast_bitrix24, which keeps the
  portal's leaky bucket (it waits instead of getting 503 QUERY_LIMIT_EXCEEDED) and retries 5xx
  answers with backoff (reference §4, §11).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

import aiohttp
from fast_bitrix24 import BitrixAsync

from portal_ext.portal.errors import PortalError, unavailable

log = logging.getLogger(__name__)
# fast_bitrix24 logs every call with its parameters at INFO; keep that out of our logs.
logging.getLogger("fast_bitrix24").setLevel(logging.WARNING)

Envelope = dict[str, Any]
Dispatch = Callable[[str, dict[str, Any]], Envelope]


class Transport(Protocol):
    """Carries one call. A transport may also say how many requests it carries at once
    (``max_in_flight``, read by PortalClient.run_batch); one that does not, carries one."""

    def call_raw(self, method: str, params: dict[str, Any]) -> Envelope: ...

    def close(self) -> None: ...


def _checked(envelope: Any, status: int = 200) -> Envelope:
    if not isinstance(envelope, dict):
        raise PortalError("ERROR_UNEXPECTED_ANSWER", "the portal's answer is not an object",
                          status)
    if "error" in envelope and "result" not in envelope:
        raise PortalError.from_body(envelope, status if status >= 400 else 400)
    return envelope


class InProcessTransport:
    # The portal's work runs in this process: a second request at once would only queue.
    max_in_flight = 1

    def __init__(self, dispatch: Dispatch) -> None:
        if not callable(dispatch):
            raise TypeError("PORTAL_DISPATCH must be a callable (method, params) -> envelope")
        self._dispatch = dispatch

    def call_raw(self, method: str, params: dict[str, Any]) -> Envelope:
        return _checked(self._dispatch(method, dict(params)))

    def close(self) -> None:
        return None


class _ServerError(aiohttp.ClientResponseError):
    """A 5xx answer with its body kept, so the error survives fast_bitrix24's retries."""

    def __init__(self, response: aiohttp.ClientResponse, body: Any) -> None:
        super().__init__(response.request_info, response.history, status=response.status,
                         message=response.reason or "", headers=response.headers)
        self.body = body


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    """5xx -> a ClientResponseError fast_bitrix24 retries; 4xx -> PortalError at once (the
    library's own check would drop the body and with it the portal's error code)."""
    if response.status < 400:
        return
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        body = None
    if response.status >= 500:
        raise _ServerError(response, body)
    raise PortalError.from_body(body, response.status)


class HttpTransport:
    """Calls over HTTP. One event loop thread per transport serves every caller, so the
    throttle sees all of this process's requests to the portal."""

    # The portal takes a good part of a second per batch of 50 writes: with one request at a
    # time the wait for its answer, not the 2 requests/s limit, would set the pace (the leaky
    # bucket still holds the rate).
    max_in_flight = 2

    def __init__(self, webhook_url: str, *, timeout: float = 30.0,
                 requests_per_second: float = 2.0, request_pool_size: int = 50) -> None:
        self.webhook_url = webhook_url.rstrip("/") + "/"
        self.timeout = timeout
        self._rate = (float(requests_per_second), int(request_pool_size))
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._bitrix: BitrixAsync | None = None

    def call_raw(self, method: str, params: dict[str, Any]) -> Envelope:
        future = asyncio.run_coroutine_threadsafe(self._call(method, dict(params)),
                                                  self._ensure_loop())
        try:
            # fast_bitrix24 retries up to 10 times with backoff; bound the whole wait too.
            return future.result(timeout=self.timeout * 12 + 60)
        except FutureTimeout:
            future.cancel()
            raise unavailable(f"{method}: no answer within the time limit") from None

    async def _call(self, method: str, params: dict[str, Any]) -> Envelope:
        bitrix = self._client()
        try:
            envelope = await bitrix.call(method, params, raw=True)
        except PortalError:
            raise
        except RuntimeError as exc:  # fast_bitrix24: "All attempts ... exhausted"
            raise _from_exhausted(exc) from exc
        except aiohttp.ClientResponseError as exc:
            raise PortalError("ERROR_UNEXPECTED_ANSWER", exc.message, exc.status) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unavailable(f"{method}: {exc or type(exc).__name__}") from exc
        return _checked(envelope)

    def _client(self) -> BitrixAsync:
        if self._bitrix is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                raise_for_status=_raise_for_status)
            rps, pool = self._rate
            self._bitrix = BitrixAsync(self.webhook_url, verbose=False, client=self._session,
                                       requests_per_second=rps, request_pool_size=pool,
                                       ssl=self.webhook_url.startswith("https"))
        return self._bitrix

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, daemon=True,
                                                name="portal-http")
                self._thread.start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._session is not None:
            asyncio.run_coroutine_threadsafe(self._session.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()
        self._session = self._bitrix = None


def _from_exhausted(exc: BaseException) -> PortalError:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, _ServerError):
            return PortalError.from_body(cause.body, cause.status)
        cause = cause.__cause__
    return unavailable(str(exc))
