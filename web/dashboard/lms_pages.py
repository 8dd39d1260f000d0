"""Teacher pages for the LMS, part of the dashboard (CSRF-protected like every dashboard form):
`/lms/integrations` (list, create, secret shown once, rotate) and `/lms/deliveries` (failed grade
deliveries, retry). The `/lms` blueprint keeps only what LMS platforms call."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

import tasks
from lms.integrations import IntegrationError, create_integration, rotate_secret
from lms.passback import reset_for_retry
from store.db import db
from store.lms.models import Delivery, DeliveryStatus, Integration, IntegrationKind
from web.auth import current_teacher, login_required
from web.dashboard import bp
from web.lms.common import log, public_url

try:  # WTForms 3.3 deprecates choices given as tuples
    from wtforms.fields.choices import SelectChoice as _choice
except ImportError:  # older WTForms

    def _choice(value, label):
        return (value, label)


class IntegrationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    kind = SelectField(
        "Kind",
        default=IntegrationKind.webhook,
        choices=[
            _choice(IntegrationKind.webhook, "Signed webhook"),
            _choice(IntegrationKind.lti, "LTI 1.3 (Canvas, Moodle, …)"),
        ],
    )
    allowed_hosts = StringField("Allowed hosts", validators=[Length(max=2000)])
    issuer = StringField("Issuer", validators=[Length(max=255)])
    client_id = StringField("Client id", validators=[Length(max=255)])
    deployment_ids = StringField("Deployment ids", validators=[Length(max=2000)])
    auth_login_url = StringField("OIDC auth URL", validators=[Length(max=2000)])
    auth_token_url = StringField("Access token URL", validators=[Length(max=2000)])
    key_set_url = StringField("Keyset (JWKS) URL", validators=[Length(max=2000)])


class ButtonForm(FlaskForm):
    """A POST button: the form carries only its CSRF token."""


def _tool_urls() -> dict[str, str]:
    return {
        "webhook": public_url("/lms/webhook"),
        "login": public_url("/lms/login"),
        "launch": public_url("/lms/launch"),
        "jwks": public_url("/lms/jwks"),
        "deep_link": public_url("/lms/launch"),
    }


def _integrations_page(form: IntegrationForm, created=None, secret=None, status: int = 200):
    rows = list(
        db.session.scalars(
            select(Integration).where(Integration.teacher_id == current_teacher().id).order_by(Integration.id)
        )
    )
    html = render_template(
        "lms/integrations.html",
        integrations=rows,
        created=created,
        secret=secret,
        urls=_tool_urls(),
        form=form,
        button=ButtonForm(),
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.route("/lms/integrations", methods=["GET", "POST"])
@login_required
def lms_integrations():
    form = IntegrationForm()
    if request.method == "GET":
        return _integrations_page(form)
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {errors[0]}", "error")
        return _integrations_page(form, status=400)
    try:
        created, secret = create_integration(
            db.session(),
            current_teacher(),
            current_app.config["STEPWISE"],
            name=form.name.data,
            kind=form.kind.data,
            allowed_hosts=form.allowed_hosts.data or "",
            issuer=form.issuer.data or None,
            client_id=form.client_id.data or None,
            deployment_ids=form.deployment_ids.data or None,
            auth_login_url=form.auth_login_url.data or None,
            auth_token_url=form.auth_token_url.data or None,
            key_set_url=form.key_set_url.data or None,
        )
    except IntegrationError as exc:
        db.session.rollback()
        flash(f"{exc.field}: {exc.message}", "error")
        return _integrations_page(form, status=400)
    return _integrations_page(IntegrationForm(formdata=None), created, secret)


@bp.post("/lms/integrations/<id:integration_id>/rotate")
@login_required
def lms_rotate(integration_id: int):
    ButtonForm().validate_on_submit()  # CSRF is enforced for every dashboard POST by CSRFProtect
    integration = db.session.get(Integration, integration_id)
    if integration is None or integration.teacher_id != current_teacher().id:
        abort(404)
    secret = rotate_secret(db.session(), integration, current_app.config["STEPWISE"])
    return _integrations_page(IntegrationForm(formdata=None), integration, secret)


@bp.get("/lms/deliveries")
@login_required
def lms_deliveries():
    show = request.args.get("show", "failed")
    query = (
        select(Delivery)
        .join(Integration, Delivery.integration_id == Integration.id)
        .where(Integration.teacher_id == current_teacher().id)
    )
    if show != "all":
        query = query.where(Delivery.status == DeliveryStatus.failed)
    rows = list(db.session.scalars(query.order_by(Delivery.id.desc()).limit(200)))
    return render_template("lms/deliveries.html", deliveries=rows, show=show, button=ButtonForm())


@bp.post("/lms/deliveries/<id:delivery_id>/retry")
@login_required
def lms_retry(delivery_id: int):
    session = db.session()
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.integration.teacher_id != current_teacher().id:
        abort(404)
    if delivery.status != DeliveryStatus.failed:
        flash("Only failed deliveries can be retried.", "error")
        return redirect(url_for("dashboard.lms_deliveries"))
    tasks.enqueue_on_commit(session, tasks.PASSBACK_TASK, [delivery.submission_id])
    reset_for_retry(session, delivery)  # commits; the passback is sent after that
    log.info("lms.passback.retry_requested delivery=%s", delivery.id)
    flash("Delivery queued again.", "ok")
    return redirect(url_for("dashboard.lms_deliveries"))
