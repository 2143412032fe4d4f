"""The patient portal as a Starlette ASGI app: the page, its JSON API and the relay.

Routes:

- ``GET /``: the page (static HTML and JavaScript, no build step); ``/static/...`` its files.
- ``GET /api/site``: the site's name, chain id, ConsentRegistry and directory of grantees.
- ``GET /api/patients/{address}``: the patient's records here, grants, guardians, break-glass
  events and recorded accesses.
- ``POST /api/prepare/{action}``: the EIP-712 documents to sign (``grant``, ``revoke``,
  ``revoke-all``, ``set-guardian``, ``invalidate-signatures``).
- ``POST /relay/{action}`` and ``POST /relay/batch``: check, then send a signed message; answers
  202 with the transaction hash, or 4xx ``{"error", "reason", "detail"}`` with nothing sent.
- ``GET /relay/tx/{hash}``: the outcome (pending, confirmed with its block, failed).
- ``GET /api/receipts/{hash}/{n}``: the consent receipt of the n-th message of a transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from radledger.chain.errors import ChainError, RadledgerError, ValidationError
from radledger.portal.errors import RateLimited, RelayRefused, UnknownTransaction
from radledger.portal.relay import ACTIONS
from radledger.portal.service import PortalService

STATIC = Path(__file__).parent / "static"
PREPARE_ACTIONS = ("grant", "revoke", "revoke-all", "set-guardian", "invalidate-signatures")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
T = TypeVar("T")


class SecurityHeaders:
    """ASGI middleware: the page's content security policy and related headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, RelayRefused):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(exc.as_json(), status_code=exc.status, headers=headers)
    if isinstance(exc, ValidationError):
        return JSONResponse({"error": "bad-request", "reason": "invalid", "detail": str(exc)}, status_code=400)
    if isinstance(exc, UnknownTransaction):
        return JSONResponse(
            {"error": "not-found", "reason": "unknown-transaction", "detail": str(exc)}, status_code=404
        )
    if isinstance(exc, ChainError):
        return JSONResponse({"error": "bad-gateway", "reason": "node", "detail": str(exc)}, status_code=502)
    return JSONResponse({"error": "error", "reason": type(exc).__name__, "detail": str(exc)}, status_code=500)


def create_app(service: PortalService) -> Starlette:
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radledger-portal")

    async def run(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(worker, fn, *args)

    async def answer(fn: Callable[..., Any], *args: Any, status: int = 200) -> Response:
        try:
            result = await run(fn, *args)
        except RadledgerError as exc:
            return error_response(exc)
        return JSONResponse(result, status_code=status)

    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            return None

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def site(request: Request) -> Response:
        return await answer(service.site)

    async def patient(request: Request) -> Response:
        return await answer(lambda a: service.overview(a).as_json(), request.path_params["address"])

    async def prepare(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in PREPARE_ACTIONS:
            return error_response(ValidationError(f"unknown action {action!r}; one of {list(PREPARE_ACTIONS)}"))
        body = await body_of(request)
        if not isinstance(body, dict):
            return error_response(ValidationError("expected a JSON object"))
        return await answer(lambda: {"typedData": service.prepare(action, body)})

    async def relay(request: Request) -> Response:
        action = request.path_params["action"]
        body = await body_of(request)
        client = request.client.host if request.client else "unknown"
        if action != "batch" and action not in ACTIONS:
            return error_response(ValidationError(f"unknown relay action {action!r}"))

        def send() -> dict[str, Any]:
            submissions = service.relay_request(action, body, client)
            return submissions[0] if action != "batch" else {"submissions": submissions}

        return await answer(send, status=202)

    async def outcome(request: Request) -> Response:
        return await answer(service.outcome, request.path_params["tx_hash"])

    async def receipt(request: Request) -> Response:
        tx_hash, position = request.path_params["tx_hash"], int(request.path_params["position"])
        try:
            doc = await run(service.receipt, tx_hash, position)
        except RadledgerError as exc:
            return error_response(exc)
        name = f"consent-receipt-{tx_hash[2:10]}-{position}.json"
        return Response(
            json.dumps(doc, indent=2) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run(service.close)
            worker.shutdown(wait=True)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/site", site),
            Route("/api/patients/{address}", patient),
            Route("/api/prepare/{action}", prepare, methods=["POST"]),
            Route("/relay/tx/{tx_hash}", outcome),
            Route("/relay/{action}", relay, methods=["POST"]),
            Route("/api/receipts/{tx_hash}/{position:int}", receipt),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
    )

    return app
