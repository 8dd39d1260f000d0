"""`stepwise lms ...`: manage LMS integrations from the command line (secrets shown once)."""

from __future__ import annotations

from types import SimpleNamespace

import click

from store.settings import Settings

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group("lms", context_settings=CONTEXT)
def lms() -> None:
    """Manage LMS integrations (secrets are shown once)."""


def _in_app(action, **options) -> int:
    from stepwise.cli import _app

    settings = Settings.from_env()
    with _app(settings).app_context():
        return action(SimpleNamespace(**options), settings)


@lms.command("add-integration")
@click.option("--teacher", required=True, help="the owning teacher's email")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(["webhook", "lti"]), default="webhook", show_default=True)
@click.option("--allowed-host", "allowed_host", multiple=True, help="host Stepwise may call back (repeat)")
@click.option("--issuer")
@click.option("--client-id")
@click.option("--deployment-id", "deployment_id", multiple=True)
@click.option("--auth-login-url")
@click.option("--auth-token-url")
@click.option("--key-set-url")
@click.option("--auth-audience")
def add_integration(**options) -> int:
    """Register a webhook source or an LTI 1.3 platform."""
    options["allowed_host"] = list(options["allowed_host"])
    options["deployment_id"] = list(options["deployment_id"])
    return _in_app(_add, **options)


@lms.command("list")
@click.option("--teacher", help="only this teacher's (email)")
def list_integrations(teacher: str | None) -> int:
    """List integrations."""
    return _in_app(_list, teacher=teacher)


@lms.command("rotate-secret")
@click.argument("public_id")
def rotate(public_id: str) -> int:
    """Issue a new webhook signing secret for PUBLIC_ID (the integration id, int_...)."""
    return _in_app(_rotate, public_id=public_id)


def main(argv: list[str] | None = None) -> int:
    """`stepwise lms ...` (kept for callers of the old entry point)."""
    from stepwise.cli import main as stepwise_main

    return stepwise_main(["lms", *(argv or [])])


def _add(args, settings: Settings) -> int:
    from lms import IntegrationError, create_integration
    from store.db import db
    from web.auth import find_teacher

    teacher = find_teacher(args.teacher)
    if teacher is None:
        click.echo(f"error: no teacher with email {args.teacher}", err=True)
        return 1
    try:
        integration, secret = create_integration(
            db.session,
            teacher,
            settings,
            name=args.name,
            kind=args.kind,
            allowed_hosts=args.allowed_host,
            issuer=args.issuer,
            client_id=args.client_id,
            deployment_ids=args.deployment_id or None,
            auth_login_url=args.auth_login_url,
            auth_token_url=args.auth_token_url,
            key_set_url=args.key_set_url,
            auth_audience=args.auth_audience,
        )
    except IntegrationError as exc:
        click.echo(f"error: {exc.field} {exc.message}", err=True)
        return 2
    base = settings.public_url.rstrip("/")
    click.echo(f"integration id: {integration.public_id}")
    click.echo(f"webhook URL:    {base}/lms/webhook")
    if args.kind == "lti":
        click.echo(f"LTI login URL:  {base}/lms/login")
        click.echo(f"LTI launch URL: {base}/lms/launch")
        click.echo(f"tool JWKS URL:  {base}/lms/jwks")
    click.echo("webhook signing secret (shown once):")
    click.echo(secret)
    return 0


def _list(args, settings: Settings) -> int:
    from sqlalchemy import select

    from store.db import db
    from store.lms.models import Integration
    from web.auth import find_teacher

    query = select(Integration).order_by(Integration.id)
    if args.teacher:
        teacher = find_teacher(args.teacher)
        query = query.where(Integration.teacher_id == (teacher.id if teacher else -1))
    for row in db.session.scalars(query):
        hosts = ", ".join(row.allowed_hosts or [])
        click.echo(f"{row.public_id}\t{row.kind}\t{row.name}\thosts: {hosts}")
    return 0


def _rotate(args, settings: Settings) -> int:
    from lms import rotate_secret
    from lms.integrations import find_by_public_id
    from store.db import db

    integration = find_by_public_id(db.session, args.public_id)
    if integration is None:
        click.echo(f"error: no integration {args.public_id}", err=True)
        return 1
    click.echo("new webhook signing secret (shown once):")
    click.echo(rotate_secret(db.session, integration, settings))
    return 0
