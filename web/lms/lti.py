"""LTI 1.3: OIDC login initiation, resource-link launch, deep linking, student submission.

pylti1p3 does the protocol (state, nonce, id_token signature via the platform JWKS, claims);
registrations come from `lms_integrations`; platform keys are fetched through GuardedSession.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, make_response, render_template, request, url_for
from pylti1p3.contrib.flask import FlaskCacheDataStorage, FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.lineitem import LineItem
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from lms.integrations import DbToolConf
from lms.kv import LtiCache
from lms.net import BlockedTarget, GuardedSession, check_url_syntax
from store.db import db
from store.intake import IntakeError, parse_answers
from store.lms.models import Integration, LtiResourceLink
from store.models import Assignment, Source, Submission
from web.intake import submit_answers
from web.lms import bp
from web.lms.common import log, public_url, settings

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
LAUNCH_PATH = "/lms/launch"


class OneTimeNonceStorage(FlaskCacheDataStorage):
    """pylti1p3 cache storage whose nonces can be used once (a replayed id_token is refused)."""

    def check_value(self, key: str) -> bool:
        if "-nonce-" in key:
            return self._get_cache().pop(self._prepare_key(key)) is not None
        return super().check_value(key)


class _Lti:
    def __init__(self) -> None:
        cfg = settings()
        self.conf = DbToolConf(db.session(), cfg)
        self.storage = OneTimeNonceStorage(LtiCache(cfg))
        self.http = GuardedSession(self.conf.allowed_hosts, allow_private=cfg.lms_allow_private)
        g.setdefault("lms_http_sessions", []).append(self.http)

    def launch(self) -> FlaskMessageLaunch:
        return FlaskMessageLaunch(
            FlaskRequest(), self.conf, launch_data_storage=self.storage, requests_session=self.http
        )

    def restore(self, launch_id: str) -> FlaskMessageLaunch:
        if not launch_id.startswith("lti1p3-launch-") or len(launch_id) > 80:
            raise LtiException("Launch data not found")
        return FlaskMessageLaunch.from_cache(
            launch_id, FlaskRequest(), self.conf, launch_data_storage=self.storage, requests_session=self.http
        )


@bp.teardown_request
def _close_http(_exc=None) -> None:
    for http in g.pop("lms_http_sessions", []):
        http.close()


def _refuse(status: int, message: str):
    return make_response(render_template("lms/message.html", title="Cannot open Stepwise", message=message), status)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """OIDC third-party login initiation (the platform's first hop)."""
    lti = _Lti()
    target = request.values.get("target_link_uri", "")
    if target and not target.startswith(public_url("/lms/")):
        log.info("lms.lti.login_refused reason=%s", "target_link_uri")
        return _refuse(400, "The launch target is not a Stepwise LTI URL.")
    try:
        oidc = FlaskOIDCLogin(FlaskRequest(), lti.conf, launch_data_storage=lti.storage)
        response = oidc.redirect(public_url(LAUNCH_PATH))
    except (OIDCException, LtiException) as exc:
        log.info("lms.lti.login_refused reason=%s", str(exc)[:120])
        return _refuse(400, "This LMS is not registered with Stepwise (check issuer and client id).")
    log.info("lms.lti.login integration=%s", lti.conf.integration.public_id if lti.conf.integration else None)
    return response


def _roles(launch: FlaskMessageLaunch) -> str:
    if launch.check_teacher_access() or launch.check_designer_access() or launch.check_teaching_assistant_access():
        return "instructor"
    if launch.check_staff_access():
        return "instructor"
    return "learner"


def _custom_assignment(data: dict[str, Any]) -> int | None:
    custom = data.get(CLAIM + "custom") or {}
    raw = custom.get("assignment") or custom.get("stepwise_assignment")
    if raw is None:
        return None
    raw = str(raw).strip()
    return int(raw) if raw.isdigit() and int(raw) < 2**31 else None


def _owned_assignment(integration: Integration, assignment_id: int | None) -> Assignment | None:
    if assignment_id is None:
        return None
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.teacher_id != integration.teacher_id:
        return None
    return assignment


def _link_for(integration: Integration, data: dict[str, Any]) -> LtiResourceLink:
    """Upsert the resource link of this launch; keep its AGS line item when it is on a registered host."""
    session = db.session()
    link_id = str((data.get(CLAIM + "resource_link") or {}).get("id", ""))[:255]
    link = session.scalar(
        select(LtiResourceLink).where(
            LtiResourceLink.integration_id == integration.id, LtiResourceLink.resource_link_id == link_id
        )
    )
    if link is None:
        link = LtiResourceLink(integration_id=integration.id, resource_link_id=link_id)
        session.add(link)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # a concurrent first launch of the same link created it
            if link in session:
                session.expunge(link)
            link = session.scalar(
                select(LtiResourceLink).where(
                    LtiResourceLink.integration_id == integration.id, LtiResourceLink.resource_link_id == link_id
                )
            )
    link.context_id = str((data.get(CLAIM + "context") or {}).get("id", ""))[:255] or None
    link.deployment_id = str(data.get(CLAIM + "deployment_id", ""))[:255] or None
    link.title = str((data.get(CLAIM + "resource_link") or {}).get("title") or link.title or "")[:500]
    ags = data.get(AGS_CLAIM) or {}
    lineitem = ags.get("lineitem")
    if isinstance(lineitem, str) and lineitem:
        try:
            check_url_syntax(lineitem, integration.allowed_hosts or [], allow_private=settings().lms_allow_private)
            link.lineitem_url = lineitem
            link.ags_scopes = [str(s) for s in ags.get("scope") or []]
        except BlockedTarget:
            log.warning("lms.lti.lineitem_refused integration=%s", integration.public_id)
    assignment = _owned_assignment(integration, _custom_assignment(data))
    if assignment is not None:
        link.assignment_id = assignment.id
    return link


def _teacher_assignments(integration: Integration) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment).where(Assignment.teacher_id == integration.teacher_id).order_by(Assignment.id.desc())
        )
    )


def _render_for(launch: FlaskMessageLaunch, integration: Integration, link: LtiResourceLink, role: str):
    data = launch.get_launch_data()
    assignment = db.session.get(Assignment, link.assignment_id) if link.assignment_id else None
    launch_id = launch.get_launch_id()
    if role == "instructor":
        if assignment is None:
            return render_template(
                "lms/pick.html",
                launch_id=launch_id,
                assignments=_teacher_assignments(integration),
                action="lms.link",
                title="Link a Stepwise assignment",
            )
        count = db.session.scalar(
            select(func.count(Submission.id)).where(
                Submission.assignment_id == assignment.id, Submission.integration_id == integration.id
            )
        )
        return render_template(
            "lms/teacher.html",
            assignment=assignment,
            link=link,
            submissions=count,
            dashboard_url=_dashboard_url(assignment),
        )
    if assignment is None:
        return _refuse(409, "Your teacher has not linked a Stepwise assignment here yet.")
    existing = db.session.scalar(
        select(Submission).where(
            Submission.assignment_id == assignment.id,
            Submission.source == Source.lms.value,
            Submission.external_id == _external_id(integration, link, data.get("sub", "")),
        )
    )
    return render_template("lms/student.html", assignment=assignment, launch_id=launch_id, submission=existing)


def _dashboard_url(assignment: Assignment) -> str:
    try:
        return public_url(url_for("dashboard.assignment", assignment_id=assignment.id))
    except BuildError:
        return public_url("/")


def _external_id(integration: Integration, link: LtiResourceLink, sub: str) -> str:
    return f"{integration.public_id}:lti:{link.resource_link_id}:{sub}"[:255]


@bp.post("/launch")
def launch():
    """The platform's form post with the id_token: validate, then show the assignment."""
    lti = _Lti()
    message = lti.launch()
    try:
        data = message.get_launch_data()
    except (LtiException, BlockedTarget) as exc:
        db.session.rollback()
        log.info("lms.lti.launch_refused reason=%s", str(exc)[:120])
        return _refuse(401, "This launch could not be verified. Open Stepwise again from your course.")
    integration = lti.conf.integration
    role = _roles(message)
    if message.is_deep_link_launch():
        log.info("lms.lti.deep_link integration=%s", integration.public_id)
        if role != "instructor":
            return _refuse(403, "Only teachers can choose assignments.")
        return render_template(
            "lms/pick.html",
            launch_id=message.get_launch_id(),
            assignments=_teacher_assignments(integration),
            action="lms.deep_link",
            title="Add a Stepwise assignment",
        )
    if not message.is_resource_launch():
        return _refuse(400, "This kind of LTI message is not supported.")
    link = _link_for(integration, data)
    db.session.commit()
    log.info("lms.lti.launch integration=%s role=%s link=%s", integration.public_id, role, link.id)
    return _render_for(message, integration, link, role)


def _restored(launch_id: str):
    lti = _Lti()
    try:
        message = lti.restore(launch_id)
        data = message.get_launch_data()
    except (LtiException, BlockedTarget):
        abort(_refuse(401, "This page has expired. Open Stepwise again from your course."))
    if lti.conf.integration is None:
        abort(_refuse(401, "This page has expired. Open Stepwise again from your course."))
    return lti, message, data


@bp.post("/launch/link")
def link():
    """An instructor links the launched resource link to one of the teacher's assignments."""
    lti, message, data = _restored(request.form.get("launch_id", ""))
    integration = lti.conf.integration
    if _roles(message) != "instructor" or not message.is_resource_launch():
        return _refuse(403, "Only teachers can link assignments.")
    assignment = _owned_assignment(integration, request.form.get("assignment", type=int))
    if assignment is None:
        abort(404)
    link_row = _link_for(integration, data)
    link_row.assignment_id = assignment.id
    db.session.commit()
    log.info("lms.lti.linked integration=%s link=%s", integration.public_id, link_row.id)
    return _render_for(message, integration, link_row, "instructor")


@bp.post("/deep-link")
def deep_link():
    """Deep linking response: the chosen assignment as an LTI resource link with a line item."""
    lti, message, _data = _restored(request.form.get("launch_id", ""))
    integration = lti.conf.integration
    if not message.is_deep_link_launch() or _roles(message) != "instructor":
        return _refuse(403, "Only teachers can choose assignments.")
    assignment = _owned_assignment(integration, request.form.get("assignment", type=int))
    if assignment is None:
        abort(404)
    resource = (
        DeepLinkResource()
        .set_url(public_url(LAUNCH_PATH))
        .set_title(assignment.title)
        .set_custom_params({"assignment": str(assignment.id)})
        .set_lineitem(
            LineItem()
            .set_score_maximum(assignment.max_score or 1)
            .set_label(assignment.title)
            .set_resource_id(str(assignment.id))
        )
    )
    html = message.get_deep_link().output_response_form([resource])
    log.info("lms.lti.deep_link_response integration=%s", integration.public_id)
    return make_response(html)


def _student_name(data: dict[str, Any]) -> str:
    name = data.get("name") or " ".join(p for p in (data.get("given_name"), data.get("family_name")) if p)
    return (name or data.get("email") or data.get("sub") or "student").strip()[:255]


@bp.post("/launch/submit")
def submit():
    """A student's answers from the launch page: stored through the one intake path."""
    lti, message, data = _restored(request.form.get("launch_id", ""))
    integration = lti.conf.integration
    if not message.is_resource_launch():
        return _refuse(400, "This launch cannot submit answers.")
    session = db.session()
    link_row = _link_for(integration, data)
    session.flush()
    assignment = session.get(Assignment, link_row.assignment_id) if link_row.assignment_id else None
    if assignment is None:
        session.rollback()
        return _refuse(409, "Your teacher has not linked a Stepwise assignment here yet.")
    raw = []
    for problem in assignment.problems:
        text = request.form.get(f"answer-{problem.position}", "")
        work = [line for line in request.form.get(f"work-{problem.position}", "").splitlines() if line.strip()]
        if text.strip() or work:
            raw.append({"problem": problem.position, "answer": text, "work": work})
    try:
        answers = parse_answers(raw, len(assignment.problems))
    except IntakeError as exc:
        session.rollback()
        return make_response(
            render_template(
                "lms/student.html",
                assignment=assignment,
                launch_id=message.get_launch_id(),
                submission=None,
                error=f"{exc.field}: {exc.message}",
            ),
            400,
        )
    sub = str(data.get("sub", ""))
    context = {
        "integration": integration.public_id,
        "external_id": f"lti:{link_row.resource_link_id}:{sub}",
        "lti": {
            "user_id": sub,
            "resource_link_id": link_row.resource_link_id,
            "context_id": link_row.context_id,
            "deployment_id": link_row.deployment_id,
        },
    }
    if link_row.lineitem_url:
        context["lti"]["lineitem"] = link_row.lineitem_url
    submission, created = submit_answers(
        assignment,
        _student_name(data),
        answers,
        Source.lms,
        external_id=_external_id(integration, link_row, sub),
        integration_id=integration.id,
        lms_context=context,
    )
    log.info("lms.lti.submitted integration=%s submission=%s created=%s", integration.public_id, submission.id, created)
    return render_template(
        "lms/student.html", assignment=assignment, launch_id=message.get_launch_id(), submission=submission
    )
