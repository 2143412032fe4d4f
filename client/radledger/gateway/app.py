"""The consent-gated DICOMweb gateway: a Starlette ASGI app in front of the site's PACS.

Routes (under the path of the public URL, e.g. ``/dicomweb``):

- ``GET /.well-known/radledger-gateway``: the token's audience and EIP-712 domain (no token).
- ``GET /studies``, ``/series``, ``/instances``: QIDO-RS, answered with the studies the requester
  may see only; `limit` and `offset` apply after that filtering.
- ``GET /studies/{study}[/...]``: WADO-RS (study, series, instance, metadata, frames, rendered,
  thumbnail, bulk data) and the QIDO-RS searches inside one study, after the access check.

Every request carries a fresh gateway token (``Authorization: Bearer``); the study is mapped to
its record id and patient through the local store, `accessBasis` must allow images for the
token's purpose (break-glass included), and, when configured, the upstream study must still
have the content hash on chain. Refusals: 401 (token), 403 (consent), 404 (study unknown here),
409 (study changed), each a JSON body ``{"error", "reason", "detail"}``. Links in answers point
at the gateway. Served studies are logged; with `record_on_chain`, the first access of a
grantee to a record for a purpose within the trail window is put on chain with `recordAccess`
as the custodian, after the answer is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from radledger.chain import validation
from radledger.chain.errors import ChainError, RadledgerError, ValidationError
from radledger.gateway.consent_check import ConsentChecker, ConsentDecision
from radledger.gateway.context import GatewayContext
from radledger.gateway.errors import (
    InvalidToken,
    StudyChanged,
    UpstreamError,
)
from radledger.gateway.ingest import verify_study
from radledger.gateway.links import LinkRewriter
from radledger.gateway.multipart import MultipartParser, boundary_of, rewrite_part_headers
from radledger.gateway.relay import RelayResponse
from radledger.gateway.store import LoggedAccess, StudyEntry
from radledger.gateway.tokens import MAX_LIFETIME, TOKEN_TYPE, WELL_KNOWN, TokenVerifier, VerifiedToken
from radledger.gateway.upstream import DICOM_JSON, Upstream
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.types import AccessBasis

log = logging.getLogger("radledger.gateway")

STUDY_UID_TAG = "0020000D"
MAX_PAGE = 1000
STREAM_CHUNK = 1 << 20
"""Bytes relayed per write to the requester (fewer, larger writes cost less than many small ones)."""
_PASSED_HEADERS = ("content-type", "content-length", "warning", "etag", "last-modified", "content-disposition")
_EXPOSED_HEADERS = ["Content-Type", "Content-Length", "WWW-Authenticate", "Warning", "X-Radledger-Record-Id",
                    "X-Radledger-Access-Basis"]  # fmt: skip


def refusal(status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    error = {401: "unauthorized", 403: "forbidden", 404: "not-found", 409: "conflict"}.get(status, "error")
    return JSONResponse({"error": error, "reason": reason, "detail": detail}, status_code=status, headers=headers)


def resource_kind(rest: str) -> str:
    """What a path below /studies/{study} asks for (for the access log)."""
    segments = [s for s in rest.split("/") if s]
    if not segments:
        return "study"
    if "bulk" in segments:
        return "bulkdata"
    levels = {0: "study", 2: "series", 4: "instance"}
    last, n = segments[-1], len(segments)
    if last in ("metadata", "rendered", "thumbnail") and n - 1 in levels:
        return f"{levels[n - 1]}-{last}"
    if n >= 6 and segments[4] == "frames":
        return "frames-" + last if last in ("rendered", "thumbnail") else "frames"
    if n in (1, 3) and last in ("series", "instances"):
        return "search"
    if n == 2 and segments[0] == "series":
        return "series"
    if n == 4 and segments[0] == "series" and segments[2] == "instances":
        return "instance"
    return "other"


class Gateway:
    """The app's state: one per served configuration."""

    def __init__(
        self,
        ctx: GatewayContext,
        checker: ConsentChecker | None = None,
        verifier: TokenVerifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.domain = ctx.domain()
        self.checker = checker or ctx.checker()
        self.verifier = verifier or TokenVerifier(self.domain, self.settings.audience, ctx.nonces, w3=ctx.w3)
        self.links = LinkRewriter(self.settings.upstream.base, self.settings.public_url)
        self.records = ctx.records()
        self.recorder = ctx.recorder()
        self.clock = clock
        self._upstream: Upstream | None = None
        self._upstream_cm: Any = None
        self._verified: dict[str, tuple[float, StudyChanged | None]] = {}
        self._verifying: dict[str, asyncio.Lock] = {}
        self.qido_page = MAX_PAGE
        """Upstream page size when filtering QIDO results."""

    # -------------------------------------------------------------- lifecycle

    async def upstream(self) -> Upstream:
        if self._upstream is None:
            self._upstream_cm = Upstream.open(self.settings.upstream)
            self._upstream = await self._upstream_cm.__aenter__()
        return self._upstream

    async def close(self) -> None:
        if self._upstream_cm is not None:
            await self._upstream_cm.__aexit__(None, None, None)
            self._upstream, self._upstream_cm = None, None

    # ---------------------------------------------------------------- checks

    async def authorize(self, request: Request) -> VerifiedToken:
        return await run_in_threadpool(self.verifier.verify_header, request.headers.get("authorization"))

    def decide(self, study: StudyEntry, token: VerifiedToken) -> ConsentDecision:
        return self.checker.check(study.patient, token.grantee, study.record_id, token.purpose)

    async def verify_content(self, study: StudyEntry) -> None:
        """Raise StudyChanged when the upstream study no longer has its registered content hash."""
        if not self.settings.verify_content:
            return
        uid = study.study_uid
        async with self._verifying.setdefault(uid, asyncio.Lock()):  # one re-read of a study at a time
            cached = self._verified.get(uid)
            if cached is None or cached[0] <= self.clock():
                try:
                    await verify_study(await self.upstream(), self.ctx.store, self.records, study)
                    outcome: StudyChanged | None = None
                except StudyChanged as exc:
                    outcome = exc
                cached = self._verified[uid] = (self.clock() + self.settings.verify_cache_seconds, outcome)
        if cached[1] is not None:
            raise cached[1]

    def visible(self, study_uids: set[str], token: VerifiedToken) -> dict[str, tuple[StudyEntry, ConsentDecision]]:
        """The studies among `study_uids` the requester may see (registered here and consented)."""
        shown: dict[str, tuple[StudyEntry, ConsentDecision]] = {}
        for uid in study_uids:
            study = self.ctx.store.study(uid)
            if study is not None:
                decision = self.decide(study, token)
                if decision.allowed:
                    shown[uid] = (study, decision)
        return shown

    # ------------------------------------------------------------ access log

    def log(
        self, study: StudyEntry, token: VerifiedToken, basis: AccessBasis, resource: str, status: int
    ) -> LoggedAccess:
        window = self.settings.trail_window_seconds if self.recorder and resource != "search" else None
        return self.ctx.store.log_access(token.grantee, study, token.purpose, basis, resource, status, window)

    def record_on_chain(self, access: LoggedAccess) -> None:
        """Put an access on the chain's trail as the custodian (runs after the answer was sent)."""
        assert self.recorder is not None
        try:
            receipt = self.recorder.record_access(
                access.grantee, access.record_id, int(Scope.IMAGES), int(access.purpose)
            )
        except RadledgerError as exc:
            log.warning("recordAccess for access %s failed: %s: %s", access.id, type(exc).__name__, exc)
            self.ctx.store.set_chain_result(access.id, None, None, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:
            log.exception("recordAccess for access %s failed", access.id)
            self.ctx.store.set_chain_result(access.id, None, None, f"{type(exc).__name__}: {exc}")
            return
        self.ctx.store.set_chain_result(
            access.id, receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"]), None
        )

    # ---------------------------------------------------------------- routes

    async def well_known(self, request: Request) -> Response:
        return JSONResponse(
            {
                "audience": self.settings.audience,
                "tokenType": TOKEN_TYPE,
                "domain": self.domain.as_dict(),
                "maxLifetimeSeconds": MAX_LIFETIME,
                "scope": "images",
                "purposes": [p.name for p in Purpose if p.name and p != Purpose.ALL],
            }
        )

    async def search(self, request: Request) -> Response:
        """QIDO-RS across studies: only visible studies, then offset and limit."""
        level = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        token = await self.authorize(request)
        try:
            limit = int(request.query_params.get("limit") or 0)
            offset = int(request.query_params.get("offset") or 0)
            if limit < 0 or offset < 0:
                raise ValueError
        except ValueError:
            return refusal(400, "bad-paging", "limit and offset must be non-negative integers")
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]
        if level != "studies":
            params.append(("includefield", STUDY_UID_TAG))
        page = min(max(100, offset + limit), self.qido_page) if limit else self.qido_page
        upstream = await self.upstream()
        shown: list[dict[str, Any]] = []
        seen: dict[str, tuple[StudyEntry, ConsentDecision]] = {}
        start = 0
        while True:
            results = await upstream.search(level, [*params, ("limit", str(page)), ("offset", str(start))])
            uids = {_study_uid(r) for r in results} - {""}
            allowed = await run_in_threadpool(self.visible, uids, token)
            seen.update(allowed)
            shown.extend(r for r in results if _study_uid(r) in allowed)
            if (limit and len(shown) >= offset + limit) or len(results) < page:
                break
            start += len(results)
        selected = shown[offset : offset + limit] if limit else shown[offset:]
        for uid in {_study_uid(r) for r in selected}:
            study, decision = seen[uid]
            await run_in_threadpool(self.log, study, token, decision.basis, "search", 200)
        return JSONResponse(self.links.json(selected), media_type=DICOM_JSON, headers=_private())

    async def study_resource(self, request: Request) -> Response:
        """WADO-RS (and QIDO-RS within a study) for one study, after the checks."""
        token = await self.authorize(request)
        uid = request.path_params["study"]
        rest = request.path_params.get("rest", "").strip("/")
        if not _is_uid(uid) or not _safe_path(rest):
            return refusal(400, "bad-path", "a study path is a DICOM UID and DICOMweb path segments")
        resource = resource_kind(rest)
        study = await run_in_threadpool(self.ctx.store.study, uid)
        if study is None:
            return refusal(404, "unknown-study", f"study {uid} is not served by this gateway")
        decision = await run_in_threadpool(self.decide, study, token)
        if not decision.allowed:
            await run_in_threadpool(self.log, study, token, AccessBasis.NONE, resource, 403)
            return refusal(403, decision.reason, decision.detail)
        try:
            await self.verify_content(study)
        except StudyChanged as exc:
            await run_in_threadpool(self.log, study, token, decision.basis, resource, 409)
            return refusal(409, "tampered" if exc.tampered else "unregistered-instances", str(exc))
        path = f"studies/{uid}" + (f"/{rest}" if rest else "")
        upstream = await self.upstream()
        answer = await upstream.send(
            path, scoped_query(request.query_params.multi_items()), request.headers.get("accept")
        )
        if answer.status_code in (401, 403, 407):
            await answer.aclose()
            raise UpstreamError(answer.status_code, "the upstream refused the gateway's credentials")
        if answer.status_code != 200:
            body = await answer.aread()
            await answer.aclose()
            return Response(self.links.header_block(body) if _is_text(answer) else body,
                            status_code=answer.status_code, media_type=answer.headers.get("content-type"))  # fmt: skip
        access = await run_in_threadpool(self.log, study, token, decision.basis, resource, 200)
        background = BackgroundTask(self.record_on_chain, access) if access.chain_due and self.recorder else None
        headers = {
            **_private(),
            "X-Radledger-Record-Id": "0x" + study.record_id.hex(),
            "X-Radledger-Access-Basis": decision.detail,
        }
        return await self.relay(answer, headers, background, only_study=uid)

    async def relay(
        self,
        answer: RelayResponse,
        headers: dict[str, str],
        background: BackgroundTask | None,
        only_study: str,
    ) -> Response:
        """The upstream's answer with its links rewritten: JSON parsed (results of another study
        than `only_study` dropped, should the upstream ever return one), multipart streamed."""
        content_type = answer.headers.get("content-type", "application/octet-stream")
        media = content_type.split(";")[0].strip().lower()
        for name in _PASSED_HEADERS[2:]:
            if name in answer.headers:
                headers[name] = answer.headers[name]
        for name in ("location", "content-location"):
            if name in answer.headers:
                headers[name] = self.links.url(answer.headers[name])
        if media.endswith("json"):
            try:
                document = json.loads(await answer.aread())
            except json.JSONDecodeError as exc:
                raise UpstreamError(502, f"invalid JSON from the upstream: {exc}") from None
            finally:
                await answer.aclose()
            document = self.links.json(within_study(document, only_study))
            return JSONResponse(document, media_type=content_type, headers=headers, background=background)
        if _is_text(answer):
            body = await answer.aread()
            await answer.aclose()
            text = body.replace(self.links.upstream_base.encode(), self.links.public_base.encode())
            return Response(text, media_type=content_type, headers=headers, background=background)
        boundary = boundary_of(content_type)
        if boundary is None and "content-length" in answer.headers:
            headers["content-length"] = answer.headers["content-length"]
        return StreamingResponse(self._stream(answer, boundary), media_type=content_type, headers=headers,
                                 background=background)  # fmt: skip

    async def _stream(self, answer: RelayResponse, boundary: bytes | None) -> AsyncIterator[bytes | memoryview]:
        try:
            if boundary is None:
                async for chunk in answer.aiter_raw(STREAM_CHUNK):
                    yield chunk
                return
            parser = MultipartParser(boundary)
            async for chunk in answer.aiter_raw(STREAM_CHUNK):
                for piece in _coalesce(rewrite_part_headers(parser.feed(chunk), self.links.header_block)):
                    yield piece
            yield b"".join(rewrite_part_headers(parser.close(), self.links.header_block))
        finally:
            await answer.aclose()


_STUDY_KEYS = {"studyinstanceuid", STUDY_UID_TAG.lower()}
_SEGMENT = re.compile(r"^[A-Za-z0-9.,_-]+$")


def scoped_query(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query of a request inside one study, without any StudyInstanceUID: a PACS that let a
    query key override the path would otherwise answer about a study that was not checked."""
    return [(k, v) for k, v in params if k.lower() not in _STUDY_KEYS]


def within_study(document: Any, study_uid: str) -> Any:
    """A JSON answer about one study, without any result that names another study."""
    if not isinstance(document, list):
        return document
    return [d for d in document if not isinstance(d, dict) or _study_uid(d) in ("", study_uid)]


def _is_uid(value: str) -> bool:
    try:
        validation.dicom_uid(value)
    except ValidationError:
        return False
    return True


def _safe_path(rest: str) -> bool:
    """DICOMweb path segments only: no empty, `.` or `..` segment, no character a URL would escape."""
    if not rest:
        return True
    return all(s.strip(".") and _SEGMENT.match(s) for s in rest.split("/"))


def _coalesce(pieces: Iterator[bytes | memoryview], small: int = 1 << 16) -> Iterator[bytes | memoryview]:
    """Small pieces (delimiters, part headers) joined, large ones (instance bodies) passed as they are."""
    pending: list[bytes | memoryview] = []
    for piece in pieces:
        if len(piece) < small:
            pending.append(piece)
            continue
        if pending:
            yield b"".join(pending)
            pending = []
        yield piece
    if pending:
        yield b"".join(pending)


def _study_uid(result: dict[str, Any]) -> str:
    values = result.get(STUDY_UID_TAG, {}).get("Value") or [""]
    return str(values[0])


def _private() -> dict[str, str]:
    return {"Cache-Control": "private, no-store"}


def _is_text(answer: RelayResponse) -> bool:
    media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    return media.startswith("text/") or media.endswith(("+xml", "/xml", "json"))


def _handler(
    gateway: Gateway, method: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """Map the gateway's errors to answers (a refusal never leaks a traceback)."""

    async def handle(request: Request) -> Response:
        try:
            return await method(request)
        except InvalidToken as exc:
            challenge = f'Bearer realm="radledger", error="invalid_token", error_description="{exc.reason}"'
            return refusal(401, exc.reason, str(exc), {"WWW-Authenticate": challenge})
        except UpstreamError as exc:
            log.warning("upstream error: %s", exc)
            return refusal(502, "upstream-error", "the imaging server behind the gateway failed")
        except ChainError as exc:
            log.warning("chain error: %s", exc)
            return refusal(503, "chain-unavailable", "the consent ledger cannot be reached")

    return handle


def create_app(
    ctx: GatewayContext,
    checker: ConsentChecker | None = None,
    verifier: TokenVerifier | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The ASGI app for one gateway; `gateway.state.gateway` is its :class:`Gateway`."""
    gateway = Gateway(ctx, checker, verifier, clock)
    prefix = ctx.settings.path_prefix
    routes = [
        Route(prefix + WELL_KNOWN, gateway.well_known, methods=["GET"]),
        Route(prefix + "/studies", _handler(gateway, gateway.search), methods=["GET"]),
        Route(prefix + "/series", _handler(gateway, gateway.search), methods=["GET"]),
        Route(prefix + "/instances", _handler(gateway, gateway.search), methods=["GET"]),
        Route(prefix + "/studies/{study}", _handler(gateway, gateway.study_resource), methods=["GET"]),
        Route(prefix + "/studies/{study}/{rest:path}", _handler(gateway, gateway.study_resource), methods=["GET"]),
    ]
    middleware = []
    if ctx.settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(ctx.settings.cors_origins),
                allow_methods=["GET"],
                allow_headers=["Authorization", "Accept", "Content-Type"],
                expose_headers=_EXPOSED_HEADERS,
                max_age=600,
            )
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.upstream()
        try:
            yield
        finally:
            await gateway.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.gateway = gateway
    return app
