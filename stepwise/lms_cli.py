"""`stepwise lms ...`: manage LMS integrations from the command line (secrets shown once)."""
from __future__ import annotations

import argparse
import sys

from store.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stepwise lms", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)

    p = sub.add_parser("add-integration", help="register a webhook source or an LTI 1.3 platform")
    p.add_argument("--teacher", required=True, help="the owning teacher's email")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", choices=["webhook", "lti"], default="webhook")
    p.add_argument("--allowed-host", action="append", default=[], help="host Stepwise may call back (repeat)")
    p.add_argument("--issuer")
    p.add_argument("--client-id")
    p.add_argument("--deployment-id", action="append", default=[])
    p.add_argument("--auth-login-url")
    p.add_argument("--auth-token-url")
    p.add_argument("--key-set-url")
    p.add_argument("--auth-audience")

    p = sub.add_parser("list", help="list integrations")
    p.add_argument("--teacher")

    p = sub.add_parser("rotate-secret", help="issue a new webhook signing secret")
    p.add_argument("public_id", help="the integration id (int_…)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from web import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    with app.app_context():
        return {"add-integration": _add, "list": _list, "rotate-secret": _rotate}[args.action](args, settings)


def _add(args, settings: Settings) -> int:
    from store.db import db
    from store.lms import IntegrationError, create_integration
    from web.auth import find_teacher

    teacher = find_teacher(args.teacher)
    if teacher is None:
        print(f"error: no teacher with email {args.teacher}", file=sys.stderr)
        return 1
    try:
        integration, secret = create_integration(
            db.session, teacher, settings, name=args.name, kind=args.kind, allowed_hosts=args.allowed_host,
            issuer=args.issuer, client_id=args.client_id, deployment_ids=args.deployment_id or None,
            auth_login_url=args.auth_login_url, auth_token_url=args.auth_token_url,
            key_set_url=args.key_set_url, auth_audience=args.auth_audience,
        )
    except IntegrationError as exc:
        print(f"error: {exc.field} {exc.message}", file=sys.stderr)
        return 2
    base = settings.public_url.rstrip("/")
    print(f"integration id: {integration.public_id}")
    print(f"webhook URL:    {base}/lms/webhook")
    if args.kind == "lti":
        print(f"LTI login URL:  {base}/lms/login")
        print(f"LTI launch URL: {base}/lms/launch")
        print(f"tool JWKS URL:  {base}/lms/jwks")
    print("webhook signing secret (shown once):")
    print(secret)
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
        print(f"{row.public_id}\t{row.kind}\t{row.name}\thosts: {hosts}")
    return 0


def _rotate(args, settings: Settings) -> int:
    from store.db import db
    from store.lms import rotate_secret
    from store.lms.integrations import find_by_public_id

    integration = find_by_public_id(db.session, args.public_id)
    if integration is None:
        print(f"error: no integration {args.public_id}", file=sys.stderr)
        return 1
    print("new webhook signing secret (shown once):")
    print(rotate_secret(db.session, integration, settings))
    return 0
