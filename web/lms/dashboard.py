"""Teacher pages: `/lms/integrations` (list, create, secret shown once) and `/lms/deliveries`
(failed grade deliveries with a retry button). The blueprint is CSRF-exempt for LMS posts, so
these forms validate the CSRF token themselves."""
from __future__ import annotations

import functools

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from tasks import PASSBACK_TASK, enqueue_on_commit
from store.db import db
from store.lms.integrations import IntegrationError, create_integration, rotate_secret
from store.lms.models import Delivery, DeliveryStatus, Integration, IntegrationKind
from store.lms.passback import reset_for_retry
from web.lms import bp
from web.lms.common import log, public_url, settings


def _teacher_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        from web.auth import login_required

        return login_required(view)(*args, **kwargs)

    return wrapped


def _teacher():
    from web.auth import current_teacher

    return current_teacher()


def _check_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token", ""))
    except (ValidationError, CSRFError):
        abort(400, "The form has expired; reload the page and try again.")


def _tool_urls() -> dict[str, str]:
    return {
        "webhook": public_url("/lms/webhook"),
        "login": public_url("/lms/login"),
        "launch": public_url("/lms/launch"),
        "jwks": public_url("/lms/jwks"),
        "deep_link": public_url("/lms/launch"),
    }


@bp.route("/integrations", methods=["GET", "POST"])
@_teacher_required
def integrations():
    teacher = _teacher()
    session = db.session()
    created = secret = None
    status = 200
    if request.method == "POST":
        _check_csrf()
        form = request.form
        kind = form.get("kind", IntegrationKind.webhook)
        try:
            created, secret = create_integration(
                session, teacher, settings(),
                name=form.get("name", "")[:255],
                kind=kind,
                allowed_hosts=form.get("allowed_hosts", "")[:2000],
                issuer=form.get("issuer") or None,
                client_id=form.get("client_id") or None,
                deployment_ids=form.get("deployment_ids") or None,
                auth_login_url=form.get("auth_login_url") or None,
                auth_token_url=form.get("auth_token_url") or None,
                key_set_url=form.get("key_set_url") or None,
            )
        except IntegrationError as exc:
            session.rollback()
            flash(f"{exc.field}: {exc.message}", "error")
            status = 400
    rows = list(session.scalars(select(Integration).where(Integration.teacher_id == teacher.id)
                                .order_by(Integration.id)))
    response = render_template("lms/integrations.html", integrations=rows, created=created, secret=secret,
                               urls=_tool_urls())
    return response, status, {"Cache-Control": "no-store"}


@bp.post("/integrations/<id:integration_id>/rotate")
@_teacher_required
def rotate(integration_id: int):
    _check_csrf()
    integration = db.session.get(Integration, integration_id)
    if integration is None or integration.teacher_id != _teacher().id:
        abort(404)
    secret = rotate_secret(db.session(), integration, settings())
    rows = list(db.session.scalars(select(Integration).where(Integration.teacher_id == integration.teacher_id)
                                   .order_by(Integration.id)))
    return (render_template("lms/integrations.html", integrations=rows, created=integration, secret=secret,
                            urls=_tool_urls()), 200, {"Cache-Control": "no-store"})


@bp.get("/deliveries")
@_teacher_required
def deliveries():
    teacher = _teacher()
    show = request.args.get("show", "failed")
    query = (select(Delivery).join(Integration, Delivery.integration_id == Integration.id)
             .where(Integration.teacher_id == teacher.id))
    if show != "all":
        query = query.where(Delivery.status == DeliveryStatus.failed)
    rows = list(db.session.scalars(query.order_by(Delivery.id.desc()).limit(200)))
    return render_template("lms/deliveries.html", deliveries=rows, show=show)


@bp.post("/deliveries/<id:delivery_id>/retry")
@_teacher_required
def retry(delivery_id: int):
    _check_csrf()
    session = db.session()
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.integration.teacher_id != _teacher().id:
        abort(404)
    if delivery.status != DeliveryStatus.failed:
        flash("Only failed deliveries can be retried.", "error")
        return redirect(url_for("lms.deliveries"))
    enqueue_on_commit(session, PASSBACK_TASK, [delivery.submission_id])
    reset_for_retry(session, delivery)
    log.info("lms.passback.retry_requested delivery=%s", delivery.id)
    flash("Delivery queued again.", "ok")
    return redirect(url_for("lms.deliveries"))
