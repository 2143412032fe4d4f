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
from urllib.parse import parse_qsl, quote, unquote

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
from radledger.gateway.consent_check import NO_CONSENT, NO_CONSENT_DETAIL, ConsentChecker, ConsentDecision
from radledger.gateway.context import GatewayContext
from radledger.gateway.errors import (
    DuplicateStudy,
    InvalidToken,
    LoginMalformed,
    RateLimited,
    StudyChanged,
    StudyNotFound,
    TokenMissing,
    UpstreamError,
)
from radledger.gateway.grant_index import GrantIndex
from radledger.gateway.ingest import verify_study
from radledger.gateway.limits import RateLimiter, client_address
from radledger.gateway.links import LinkRewriter
from radledger.gateway.multipart import MultipartParser, boundary_of, rewrite_part_headers
from radledger.gateway.relay import RelayResponse
from radledger.gateway.sessions import LOGIN_TYPE, SESSION_COOKIE, Session, SessionManager, is_session_token
from radledger.gateway.store import LoggedAccess, StudyEntry
from radledger.gateway.tokens import MAX_LIFETIME, TOKEN_TYPE, WELL_KNOWN, TokenVerifier, VerifiedToken
from radledger.gateway.upstream import DICOM_JSON, PATIENT_ID_TAG, Upstream, patient_id_of
from radledger.gateway.viewer import Viewer, find_viewer_dist
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.types import AccessBasis

log = logging.getLogger("radledger.gateway")

STUDY_UID_TAG = "0020000D"
MAX_PAGE = 1000
BURST_SECONDS = 10.0
"""A rate limit's bucket holds this many seconds' worth of requests."""
STREAM_CHUNK = 1 << 20
"""Bytes relayed per write to the requester (fewer, larger writes cost less than many small ones)."""
_PASSED_HEADERS = ("content-type", "content-length", "warning", "etag", "last-modified", "content-disposition")
_EXPOSED_HEADERS = ["Content-Type", "Content-Length", "WWW-Authenticate", "Warning", "X-Radledger-Record-Id",
                    "X-Radledger-Access-Basis"]  # fmt: skip


def refusal(status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    error = {
        400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 406: "not-acceptable",
        409: "conflict", 429: "too-many-requests",
    }.get(status, "error")  # fmt: skip
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
        sessions: SessionManager | None = None,
        index: GrantIndex | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.domain = ctx.domain()
        self.checker = checker or ctx.checker()
        self.verifier = verifier or TokenVerifier(self.domain, self.settings.audience, ctx.nonces, w3=ctx.w3)
        self.sessions = sessions or SessionManager(
            self.domain, self.settings.audience, ctx.nonces, ctx.sessions, self.settings.session_seconds,
            clock=wall_clock, w3=ctx.w3,
        )  # fmt: skip
        self.index = index or ctx.grant_index()
        self.links = LinkRewriter(self.settings.upstream.base, self.settings.public_url)
        self.records = ctx.records()
        self.recorder = ctx.recorder()
        self.clock = clock
        s = self.settings
        self.per_key = RateLimiter("key", s.rate_per_key, s.rate_per_key * BURST_SECONDS, clock)
        self.per_address = RateLimiter("address", s.rate_per_address, s.rate_per_address * BURST_SECONDS, clock)
        self._upstream: Upstream | None = None
        self._upstream_cm: Any = None
        self._verified: dict[str, tuple[float, StudyChanged | None]] = {}
        self._verifying: dict[str, asyncio.Lock] = {}
        self._guarded: dict[str, tuple[float, Exception | None]] = {}
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

    def address_of(self, request: Request) -> str:
        return client_address(request.client.host if request.client else None, request.headers.get("x-real-ip"))

    async def authorize(self, request: Request) -> VerifiedToken:
        """Who asks: a session (bearer or cookie) or a per-request token; rate-limited per network
        address before the check and per key after it."""
        self.per_address.take(self.address_of(request))
        header = request.headers.get("authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        if header and header.strip().lower().startswith("bearer ") and is_session_token(header.strip()[7:]):
            identity = self._session_identity(self.sessions.lookup(header.strip()[7:].strip()))
        elif header:
            identity = await run_in_threadpool(self.verifier.verify_header, header)
        elif cookie:
            identity = self._session_identity(self.sessions.lookup(cookie))
        else:
            raise TokenMissing()
        self.per_key.take(identity.grantee)
        return identity

    def _session_identity(self, session: Session) -> VerifiedToken:
        return VerifiedToken(session.grantee, session.purpose, session.expires_at, b"", session.audience)

    def decide(self, study: StudyEntry, token: VerifiedToken, explain: bool = True) -> ConsentDecision:
        return self.checker.check(study.patient, token.grantee, study.record_id, token.purpose, explain)

    async def guard_pacs(self, study: StudyEntry) -> None:
        """Raise unless the PACS holds exactly the registered study under its UID: DuplicateStudy
        when two studies share it (or another patient's holds it), StudyNotFound when none does.
        The answer stands for `consent_cache_seconds`."""
        uid = study.study_uid
        cached = self._guarded.get(uid)
        if cached is None or cached[0] <= self.clock():
            matches = await (await self.upstream()).study_matches(uid)
            outcome: Exception | None = None
            if not matches:
                outcome = StudyNotFound(uid)
            elif len(matches) > 1 or (study.patient_id is not None and patient_id_of(matches[0]) != study.patient_id):
                outcome = DuplicateStudy(uid, len(matches))
            cached = self._guarded[uid] = (self.clock() + self.settings.consent_cache_seconds, outcome)
        if cached[1] is not None:
            raise cached[1]

    async def verify_content(self, study: StudyEntry) -> None:
        """Raise StudyChanged when the upstream study no longer has its registered content hash.

        The outcome stands for `verify_cache_seconds`: bytes changed in the PACS within that
        window after a check are served until the next check (the requester can check the
        content hash itself: `images fetch --verify`), and the check and the relay are two reads
        of the PACS."""
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

    def candidate_studies(self, token: VerifiedToken) -> list[StudyEntry]:
        """The registered studies the requester's grants (or break-glass) may cover, from the
        grant index: the only ones a search asks the chain about."""
        candidates = self.index.candidates(token.grantee)
        found: dict[str, StudyEntry] = {}
        for record in sorted(candidates.records):
            study = self.ctx.store.study_of_record(record)
            if study is not None:
                found[study.study_uid] = study
        for patient in sorted(candidates.patients):
            for study in self.ctx.store.studies_of_patient(patient):
                found[study.study_uid] = study
        return sorted(found.values(), key=lambda e: (e.registered_at, e.study_uid))

    def visible(self, token: VerifiedToken) -> list[tuple[StudyEntry, ConsentDecision]]:
        """The requester's candidate studies it may see now (no refusal is explained)."""
        shown = []
        for study in self.candidate_studies(token):
            decision = self.decide(study, token, explain=False)
            if decision.allowed:
                shown.append((study, decision))
        return shown

    async def check_study(
        self, token: VerifiedToken, uid: str, rest: str
    ) -> tuple[StudyEntry, ConsentDecision] | Response:
        """The checks before anything of a study is served: path, registration and consent (both
        answered alike to a requester without consent), the PACS's copy, the content."""
        if not _is_uid(uid) or not _safe_path(rest):
            return refusal(400, "bad-path", "a study path is a DICOM UID and DICOMweb path segments")
        resource = resource_kind(rest)
        study = await run_in_threadpool(self.ctx.store.study, uid)
        if study is None:
            return refusal(403, NO_CONSENT, NO_CONSENT_DETAIL)
        decision = await run_in_threadpool(self.decide, study, token)
        if not decision.allowed:
            await run_in_threadpool(self.log, study, token, AccessBasis.NONE, resource, 403)
            return refusal(403, decision.reason, decision.detail)
        try:
            await self.guard_pacs(study)
            await self.verify_content(study)
        except StudyChanged as exc:
            await run_in_threadpool(self.log, study, token, decision.basis, resource, 409)
            return refusal(409, "tampered" if exc.tampered else "unregistered-instances", str(exc))
        except DuplicateStudy as exc:
            await run_in_threadpool(self.log, study, token, decision.basis, resource, 409)
            return refusal(409, "duplicate-study", str(exc))
        except StudyNotFound:
            await run_in_threadpool(self.log, study, token, decision.basis, resource, 404)
            return refusal(404, "missing-from-pacs", "the study is registered but the imaging server no longer has it")
        return study, decision

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
                "loginType": LOGIN_TYPE,
                "domain": self.domain.as_dict(),
                "maxLifetimeSeconds": MAX_LIFETIME,
                "sessionSeconds": self.sessions.lifetime,
                "scope": "images",
                "purposes": [p.name for p in Purpose if p.name and p != Purpose.ALL],
            }
        )

    async def login(self, request: Request) -> Response:
        """``POST /session``: a signed login (EIP-712 or EIP-4361) → a session (bearer + cookie);
        ``{"session": token}`` sets the cookie of a session made elsewhere (`images login`)."""
        self.per_address.take(self.address_of(request))
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            # a cross-site form cannot send this without a CORS preflight (refused): no login CSRF
            raise LoginMalformed("the sign-in body must be sent as application/json")
        body = await request.body()
        if len(body) > 16384:
            raise LoginMalformed("the sign-in body is too large")
        try:
            document = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise LoginMalformed("the sign-in body is not JSON") from None
        if isinstance(document, dict) and isinstance(document.get("session"), str):
            session = self.sessions.lookup(document["session"])
        else:
            session = await run_in_threadpool(self.sessions.login, document)
        self.per_key.take(session.grantee)
        response = JSONResponse(session.as_dict(), headers=_private())
        response.set_cookie(
            SESSION_COOKIE, session.token, max_age=max(1, session.expires_at - int(self.sessions.clock())),
            path="/", secure=True, httponly=True, samesite="strict",
        )  # fmt: skip
        return response

    async def whoami(self, request: Request) -> Response:
        """``GET /session``: the session in use (401 without one)."""
        token = await self.authorize(request)
        return JSONResponse(
            {"grantee": token.grantee, "purpose": token.purpose.name, "expiresAt": token.expiry}, headers=_private()
        )

    async def logout(self, request: Request) -> Response:
        for value in (request.cookies.get(SESSION_COOKIE), _bearer(request)):
            if value and is_session_token(value):
                self.sessions.logout(value)
        response = JSONResponse({"signedOut": True}, headers=_private())
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    async def search(self, request: Request) -> Response:
        """QIDO-RS across studies: only the requester's visible studies (from its grants), then
        offset and limit."""
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
        wanted = {u.strip() for k, v in params if k.lower() in _STUDY_KEYS for u in re.split(r"[,\\]", v)}
        params = [(k, v) for k, v in params if k.lower() not in _STUDY_KEYS]
        if level != "studies":
            params.append(("includefield", STUDY_UID_TAG))
        params.append(("includefield", PATIENT_ID_TAG))
        visible = await run_in_threadpool(self.visible, token)
        if wanted:
            visible = [(s, d) for s, d in visible if s.study_uid in wanted]
        upstream = await self.upstream()
        shown: list[tuple[dict[str, Any], StudyEntry, ConsentDecision]] = []
        for study, decision in visible:
            if limit and len(shown) >= offset + limit:
                break
            results = await upstream.search(level, [*params, ("StudyInstanceUID", study.study_uid)])
            shown.extend(
                (r, study, decision) for r in results
                if _study_uid(r) == study.study_uid
                and (study.patient_id is None or patient_id_of(r) in ("", study.patient_id))
            )  # fmt: skip
        selected = shown[offset : offset + limit] if limit else shown[offset:]
        logged: set[str] = set()
        for _, study, decision in selected:
            if study.study_uid not in logged:
                logged.add(study.study_uid)
                await run_in_threadpool(self.log, study, token, decision.basis, "search", 200)
        return JSONResponse(self.links.json([r for r, _, _ in selected]), media_type=DICOM_JSON, headers=_private())

    async def study_resource(self, request: Request) -> Response:
        """WADO-RS (and QIDO-RS within a study) for one study, after the checks."""
        token = await self.authorize(request)
        uid = request.path_params["study"]
        rest = request.path_params.get("rest", "").strip("/")
        checked = await self.check_study(token, uid, rest)
        if isinstance(checked, Response):
            return checked
        study, decision = checked
        resource = resource_kind(rest)
        path = f"studies/{uid}" + (f"/{rest}" if rest else "")
        upstream = await self.upstream()
        query = scoped_query(request.query_params.multi_items())
        answer = await upstream.send(path, query, request.headers.get("accept"))
        if answer.status_code in (400, 404, 405, 406, 501) and resource.endswith("thumbnail"):
            await answer.aclose()  # a PACS without the thumbnail route: its rendered image instead
            answer = await upstream.send(path.rsplit("/", 1)[0] + "/rendered", query, "image/jpeg")
        if answer.status_code in (401, 403, 407):
            await answer.aclose()
            raise UpstreamError(answer.status_code, "the upstream refused the gateway's credentials")
        if answer.status_code != 200:
            await answer.aclose()  # the PACS's own body (its ids, URIs and codes) never reaches the requester
            return upstream_refusal(answer.status_code)
        access = await run_in_threadpool(self.log, study, token, decision.basis, resource, 200)
        background = BackgroundTask(self.record_on_chain, access) if access.chain_due and self.recorder else None
        headers = {**_private(), **_record_headers(study, decision)}
        return await self.relay(answer, headers, background, only_study=uid)

    async def authorize_bytes(self, request: Request) -> Response:
        """The reverse proxy's ``auth_request``: may the original request (``X-Original-URI``) of a
        WADO-RS byte route be streamed from the PACS? 204 with the record headers, or 401/403
        carrying the refusal in ``X-Radledger-Status``, ``-Reason`` and ``-Detail``."""
        try:
            token = await self.authorize(request)
        except InvalidToken as exc:
            return _auth_refusal(401, exc.reason, str(exc))
        except RateLimited as exc:
            return _auth_refusal(429, "rate-limited", str(exc), exc.retry_after)
        original = request.headers.get("x-original-uri", "")
        path, _, query = original.partition("?")
        prefix = self.settings.path_prefix + "/studies/"
        if not path.startswith(prefix) or _has_study_key(query):
            return _auth_refusal(400, "bad-path", "not a study's WADO-RS route, or a query naming a study")
        uid, _, rest = path[len(prefix) :].partition("/")
        try:
            checked = await self.check_study(token, uid, rest.strip("/"))
        except UpstreamError:
            return _auth_refusal(502, "upstream-error", "the imaging server behind the gateway failed")
        except ChainError:
            return _auth_refusal(503, "chain-unavailable", "the consent ledger cannot be reached")
        if isinstance(checked, Response):
            body = json.loads(bytes(checked.body))
            return _auth_refusal(checked.status_code, body["reason"], body["detail"])
        study, decision = checked
        access = await run_in_threadpool(self.log, study, token, decision.basis, resource_kind(rest), 200)
        background = BackgroundTask(self.record_on_chain, access) if access.chain_due and self.recorder else None
        return Response(status_code=204, headers=_record_headers(study, decision), background=background)

    async def proxy_refusal(self, request: Request) -> Response:
        """The body of a refusal the reverse proxy got from :meth:`authorize_bytes` (its status,
        reason and detail come back in headers the proxy sets)."""
        try:
            status = int(request.headers.get("x-radledger-status", "403"))
        except ValueError:
            status = 403
        if status not in (400, 401, 403, 404, 409, 429, 502, 503):
            status = 403
        reason = unquote(request.headers.get("x-radledger-reason", "")) or "forbidden"
        detail = unquote(request.headers.get("x-radledger-detail", ""))
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = _challenge(reason)
        if status == 429:
            headers["Retry-After"] = request.headers.get("x-radledger-retry-after", "1")
        return refusal(status, reason, detail, headers)

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

    async def not_found(self, request: Request) -> Response:
        """Any other path: a path with a trailing slash is redirected to the same path without it
        under the public URL (never to the Host the request named); anything else is 404."""
        path = request.url.path
        if path.endswith("/") and len(path) > 1 and path.startswith(self.settings.path_prefix + "/"):
            target = self.settings.public_url.rstrip("/") + path.rstrip("/")[len(self.settings.path_prefix) :]
            if request.url.query:
                target += "?" + request.url.query
            return Response(status_code=307, headers={"Location": target})
        return refusal(404, "not-found", "no such route at this gateway")


def upstream_refusal(status: int) -> JSONResponse:
    """The gateway's own answer to an upstream error (the PACS's body is dropped)."""
    if status in (204, 404):
        return refusal(404, "not-found", "the imaging server has no such resource in this study")
    if status in (400, 406):
        return refusal(status, "not-acceptable" if status == 406 else "bad-request",
                       "the imaging server cannot answer this request")  # fmt: skip
    return refusal(502, "upstream-error", "the imaging server behind the gateway failed")


def _record_headers(study: StudyEntry, decision: ConsentDecision) -> dict[str, str]:
    return {"X-Radledger-Record-Id": "0x" + study.record_id.hex(), "X-Radledger-Access-Basis": decision.detail}


def _auth_refusal(status: int, reason: str, detail: str, retry_after: float | None = None) -> Response:
    """auth_request understands 2xx, 401 and 403 only: the real status travels in a header."""
    headers = {"X-Radledger-Status": str(status), "X-Radledger-Reason": quote(reason),
               "X-Radledger-Detail": quote(detail[:500])}  # fmt: skip
    if retry_after is not None:
        headers["X-Radledger-Retry-After"] = str(max(1, int(retry_after + 0.999)))
    return Response(status_code=401 if status == 401 else 403, headers=headers)


def _challenge(reason: str) -> str:
    return f'Bearer realm="radledger", error="invalid_token", error_description="{reason}"'


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "").strip()
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _has_study_key(query: str) -> bool:
    return any(k.lower() in _STUDY_KEYS for k, _ in parse_qsl(query, keep_blank_values=True))


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
            return refusal(401, exc.reason, str(exc), {"WWW-Authenticate": _challenge(exc.reason)})
        except RateLimited as exc:
            retry = str(max(1, int(exc.retry_after + 0.999)))
            return refusal(429, "rate-limited", f"too many requests from this {exc.what}", {"Retry-After": retry})
        except StudyNotFound:
            return refusal(404, "missing-from-pacs", "the study is registered but the imaging server no longer has it")
        except DuplicateStudy as exc:
            return refusal(409, "duplicate-study", str(exc))
        except UpstreamError as exc:
            log.warning("upstream error: %s", exc)
            return refusal(502, "upstream-error", "the imaging server behind the gateway failed")
        except ChainError as exc:
            log.warning("chain error: %s", exc)
            return refusal(503, "chain-unavailable", "the consent ledger cannot be reached")

    return handle


AUTHORIZE_PATH = "/_radledger/authorize"
"""Under the gateway's path: the reverse proxy's auth_request endpoint (never exposed by it)."""
REFUSAL_PATH = "/_radledger/refusal"


def create_app(
    ctx: GatewayContext,
    checker: ConsentChecker | None = None,
    verifier: TokenVerifier | None = None,
    clock: Callable[[], float] = time.monotonic,
    sessions: SessionManager | None = None,
    index: GrantIndex | None = None,
) -> Starlette:
    """The ASGI app for one gateway; `gateway.state.gateway` is its :class:`Gateway`."""
    gateway = Gateway(ctx, checker, verifier, clock, sessions, index)
    prefix = ctx.settings.path_prefix
    routes = [
        Route(prefix + WELL_KNOWN, gateway.well_known, methods=["GET"]),
        Route(prefix + "/session", _handler(gateway, gateway.login), methods=["POST"]),
        Route(prefix + "/session", _handler(gateway, gateway.whoami), methods=["GET"]),
        Route(prefix + "/session/logout", _handler(gateway, gateway.logout), methods=["POST"]),
        Route(prefix + AUTHORIZE_PATH, _handler(gateway, gateway.authorize_bytes), methods=["GET"]),
        Route(prefix + REFUSAL_PATH, gateway.proxy_refusal, methods=["GET"]),
        Route(prefix + "/studies", _handler(gateway, gateway.search), methods=["GET"]),
        Route(prefix + "/series", _handler(gateway, gateway.search), methods=["GET"]),
        Route(prefix + "/instances", _handler(gateway, gateway.search), methods=["GET"]),
        Route(prefix + "/studies/{study}", _handler(gateway, gateway.study_resource), methods=["GET"]),
        Route(prefix + "/studies/{study}/{rest:path}", _handler(gateway, gateway.study_resource), methods=["GET"]),
    ]
    dist = find_viewer_dist(ctx.settings.viewer_dir)
    if dist is not None:
        viewer = Viewer(dist, ctx.settings.public_url, prefix, gateway.sessions)
        routes.extend(viewer.routes())
    routes.append(Route("/{path:path}", gateway.not_found, methods=["GET"]))
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
    app.router.redirect_slashes = False  # Starlette's redirect names the request's Host: see not_found
    app.state.gateway = gateway
    return app
