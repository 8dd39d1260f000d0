"""`/api/v1/tokens`: a teacher lists, issues, revokes and reissues their own API tokens."""

from __future__ import annotations

from flask import g, jsonify
from pydantic import Field

from store.db import db
from store.schemas import Strict, text_field
from web.api import bp
from web.api.schemas import Out
from web.api.spec import BODY_ERRORS, operation, request_body
from web.auth import issue_token, reissue_token, revoke_token, token_json, token_of, tokens_of
from web.errors import ApiError


class TokenIn(Strict):
    name: text_field(255, required=False, strip=True) = Field(default=None, description="A label to tell tokens apart")


class TokenOut(Out):
    """A token's record (never its secret)"""

    id: int
    name: str
    prefix: str = Field(description="The first characters of the token")
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    active: bool


class TokenIssued(TokenOut):
    """The new token; `token` is shown this once"""

    token: str


class TokenList(Out):
    """Your tokens, revoked ones included"""

    tokens: list[TokenOut]


def _own(token_id: int):
    row = token_of(g.api_teacher, token_id)
    if row is None:
        raise ApiError(404, "not_found", f"No token {token_id}.")
    return row


def _issued(token: str):
    from web.auth import find_token

    return jsonify(token_json(find_token(token), token)), 201


@bp.get("/tokens")
@operation("listTokens", responses={200: TokenList}, tags=("tokens",))
def list_tokens():
    return jsonify({"tokens": [token_json(row) for row in tokens_of(g.api_teacher)]})


@bp.post("/tokens")
@operation("issueToken", body=TokenIn, responses={201: TokenIssued}, errors=BODY_ERRORS, tags=("tokens",))
def issue():
    body: TokenIn = request_body()
    token = issue_token(g.api_teacher, body.name or "")
    db.session.commit()
    return _issued(token)


@bp.delete("/tokens/<id:token_id>")
@operation("revokeToken", responses={200: TokenOut}, tags=("tokens",))
def revoke(token_id: int):
    row = _own(token_id)
    revoke_token(row)
    return jsonify(token_json(row))


@bp.post("/tokens/<id:token_id>/reissue")
@operation("reissueToken", responses={201: TokenIssued}, tags=("tokens",))
def reissue(token_id: int):
    return _issued(reissue_token(_own(token_id)))
