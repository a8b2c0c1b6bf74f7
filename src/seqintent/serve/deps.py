"""What routes depend on: the service, the caller's key and scope, and the API's error bodies.

Dependencies here are ``async`` because they never block: FastAPI would run a plain ``def``
dependency in the thread pool, one more hop per request. Endpoints that call the model or the
store are plain ``def`` (they block, so they run in the thread pool).

Error bodies: ``{"error": CODE, "message": TEXT}`` (plus ``errors`` for 422: one entry per bad
field, with ``field`` as a dotted path such as ``events[0].ts``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from seqintent.serve.auth import KeyInfo
from seqintent.serve.schemas import parse_ts
from seqintent.serve.service import AnswerParams, IntentService

bearer = HTTPBearer(
    auto_error=False, description="An API key (seqintent keys add KEYFILE --scopes read,write)"
)


class ApiError(Exception):
    """An HTTP error with the API's body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


async def get_service(request: Request) -> IntentService:
    return request.app.state.service


ServiceDep = Annotated[IntentService, Depends(get_service)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authorize(scope: str) -> Callable[..., Awaitable[KeyInfo | None]]:
    """A dependency that lets the request through only with a key holding ``scope`` (401 / 403 otherwise)."""

    async def check(request: Request, credentials: Credentials) -> KeyInfo | None:
        ring = request.app.state.keys
        if ring is None:  # the service runs without authentication (local trials)
            return None
        if credentials is None:
            raise ApiError(
                401,
                "unauthorized",
                "no API key: send the header 'Authorization: Bearer KEY'",
                {"WWW-Authenticate": "Bearer"},
            )
        info = ring.lookup(credentials.credentials)
        if info is None:
            raise ApiError(401, "unauthorized", "unknown API key", {"WWW-Authenticate": "Bearer"})
        request.state.key_id = info.id
        if scope not in info.scopes:
            raise ApiError(
                403,
                "forbidden",
                f"the key {info.id} lacks the {scope!r} scope (it has: {', '.join(sorted(info.scopes))})",
            )
        return info

    return check


def json_body(model: type[BaseModel]) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that validates the request body as ``model`` straight from its JSON bytes.

    pydantic's JSON mode parses and validates in one native pass, about half the time of FastAPI's
    ``json.loads`` then validate on a 200-event history; errors read exactly as body errors do. The
    route declares the body for the docs with ``openapi_extra=body_doc(model)``.
    """

    async def parse(request: Request) -> Any:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None

    return parse


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses ``model`` with :func:`json_body`."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def json_response(model: BaseModel, *, status: int = 200) -> Response:
    """A model as a JSON response (nulls left out), serialised once by pydantic.

    Routes declare their ``response_model`` for the docs and return this: FastAPI would otherwise
    validate the result again and encode it through ``jsonable_encoder``, a second full pass.
    """
    return Response(
        model.model_dump_json(exclude_none=True), status_code=status, media_type="application/json"
    )


def invalid(location: str, field: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 for one field, in the same shape as body validation errors."""
    return RequestValidationError(
        [{"loc": (location, field), "msg": message, "type": "value_error", "input": value}]
    )


def answer_params(service: IntentService, k: int | None, at: str | None, exclude_seen: bool) -> AnswerParams:
    """Check the query parameters every answer takes (422 naming the parameter when one is bad)."""
    settings = service.settings
    k = settings.default_k if k is None else k
    if not 1 <= k <= settings.max_k:
        raise invalid("query", "k", f"must be between 1 and {settings.max_k}", k)
    at_ms = None
    if at is not None:
        try:
            at_ms = parse_ts(int(at) if at.strip().lstrip("-").isdigit() else at)
        except ValueError as exc:
            raise invalid("query", "at", str(exc), at) from None
    return AnswerParams(k=k, at_ms=at_ms, exclude_seen=exclude_seen)


def field_path(loc: tuple[Any, ...]) -> str:
    """``("body", "events", 0, "ts")`` → ``events[0].ts``."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
