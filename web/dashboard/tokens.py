"""`/tokens`: a teacher's API tokens on the dashboard — listed, issued, revoked and reissued
(a new token's plaintext is shown once)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from store.db import db
from web.auth import current_teacher, issue_token, login_required, reissue_token, revoke_token, token_of, tokens_of
from web.dashboard import bp


class TokenForm(FlaskForm):
    name = StringField("Name (to tell tokens apart)", validators=[Length(max=255)])


class TokenButton(FlaskForm):
    """Revoke / reissue buttons: only the CSRF token."""


def _page(new_token: str | None = None, status: int = 200):
    html = render_template(
        "dashboard/tokens.html",
        tokens=tokens_of(current_teacher()),
        form=TokenForm(),
        button=TokenButton(),
        new_token=new_token,
    )
    return html, status, {"Cache-Control": "no-store"}


def _own(token_id: int):
    row = token_of(current_teacher(), token_id)
    if row is None:
        abort(404)
    return row


@bp.get("/tokens")
@login_required
def tokens():
    return _page()


@bp.post("/tokens")
@login_required
def token_issue():
    form = TokenForm()
    if not form.validate_on_submit():
        flash("The name is longer than 255 characters.", "error")
        return _page(status=400)
    token = issue_token(current_teacher(), (form.name.data or "").strip())
    db.session.commit()
    return _page(new_token=token)


@bp.post("/tokens/<id:token_id>/revoke")
@login_required
def token_revoke(token_id: int):
    revoke_token(_own(token_id))
    flash("Token revoked: it no longer works.", "ok")
    return redirect(url_for("dashboard.tokens"))


@bp.post("/tokens/<id:token_id>/reissue")
@login_required
def token_reissue(token_id: int):
    return _page(new_token=reissue_token(_own(token_id)))
