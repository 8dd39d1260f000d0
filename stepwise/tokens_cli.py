"""`stepwise tokens ...`: list, issue, revoke and reissue a teacher's API tokens (shown once)."""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group("tokens", context_settings=CONTEXT)
def tokens() -> None:
    """Manage a teacher's API tokens (a new token's plaintext is printed once, as the last line)."""


def _problem(message: str) -> click.ClickException:
    from stepwise.cli import EnvironmentProblem

    return EnvironmentProblem(message)


def _teacher(email: str):
    from web.auth import find_teacher

    teacher = find_teacher(email)
    if teacher is None:
        raise _problem(f"no teacher with email {email}")
    return teacher


def _token(teacher, token_id: int):
    from web.auth import token_of

    row = token_of(teacher, token_id)
    if row is None:
        raise _problem(f"{teacher.email} has no token {token_id}")
    return row


def _in_app(action) -> int:
    from stepwise.cli import _app

    with _app().app_context():
        return action()


EMAIL = click.option("--email", required=True, help="the teacher's email")


@tokens.command("list")
@EMAIL
def list_tokens(email: str) -> int:
    """List tokens: id, prefix, name, created, last used, revoked."""

    def run() -> int:
        from web.auth import tokens_of

        for row in tokens_of(_teacher(email)):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            click.echo(f"{row.id}\t{row.prefix}…\t{state}\tlast used {used}\t{row.name}")
        return 0

    return _in_app(run)


@tokens.command("issue")
@EMAIL
@click.option("--name", default="", help="a label to tell tokens apart")
def issue(email: str, name: str) -> int:
    """Issue a new token."""

    def run() -> int:
        from store.db import db
        from web.auth import issue_token

        token = issue_token(_teacher(email), name)
        db.session.commit()
        click.echo("new API token (shown once):")
        click.echo(token)
        return 0

    return _in_app(run)


@tokens.command("revoke")
@EMAIL
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
def revoke(email: str, token_id: int) -> int:
    """Revoke token TOKEN_ID; it stops working at once."""

    def run() -> int:
        from web.auth import revoke_token

        revoke_token(_token(_teacher(email), token_id))
        click.echo(f"revoked token {token_id}")
        return 0

    return _in_app(run)


@tokens.command("reissue")
@EMAIL
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
def reissue(email: str, token_id: int) -> int:
    """Revoke token TOKEN_ID and issue a new one with the same name."""

    def run() -> int:
        from web.auth import reissue_token

        token = reissue_token(_token(_teacher(email), token_id))
        click.echo(f"revoked token {token_id}; new API token (shown once):")
        click.echo(token)
        return 0

    return _in_app(run)
