"""SQL statements per submission stay a small constant at intake and at grading: no per-answer
queries (the N+1 that made grading issue 69 statements for 20 answers)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event
from test_api import make_assignment

from store import grading
from store.db import db

PROBLEMS = 20


@contextmanager
def counted():
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _assignment(client, auth, n):
    body = {"title": "Many", "problems": [{"statement": f"{i} + 1", "answer": str(i + 1)} for i in range(n)]}
    return make_assignment(client, auth, body)


def _submit(client, auth, assignment, n):
    body = {"student": "Ada", "answers": [{"problem": i + 1, "answer": str(i + 1)} for i in range(n)]}
    resp = client.post(f"/api/v1/assignments/{assignment['id']}/submissions", json=body, headers=auth)
    assert resp.status_code == 202
    return resp.get_json()["id"]


def _count(client, auth, app) -> tuple[int, int]:
    """Statements for one 20-answer submission at intake (the API call) and at grading (what the
    grading task runs), after checking that neither grows with the number of answers."""
    assignment = _assignment(client, auth, PROBLEMS)
    _submit(client, auth, assignment, 1)  # warm caches (token, assignment) the same way for both counts
    with app.app_context():
        db.session.remove()
    with counted() as few_in:
        few = _submit(client, auth, assignment, 2)
    with counted() as many_in:
        many = _submit(client, auth, assignment, PROBLEMS)
    assert len(many_in) == len(few_in), (few_in, many_in)
    with app.app_context():  # what the grading task runs for a queued submission
        with counted() as few_graded:
            assert grading.grade(db.session, few, "task-few").status == "graded"
        db.session.remove()
    with app.app_context():
        with counted() as many_graded:
            assert grading.grade(db.session, many, "task-many").status == "graded"
        db.session.remove()
    assert len(many_graded) == len(few_graded), (few_graded, many_graded)
    assert len(many_in) <= 5, many_in  # the target: a handful at intake and at grading
    assert len(many_graded) <= 5, many_graded
    return len(many_in), len(many_graded)


def test_intake_and_grading_statements_do_not_grow_with_the_answers(client, auth, app):
    intake, graded = _count(client, auth, app)
    assert intake == 3  # the token, the assignment, then one statement stores everything (store.intake)
    print(f"\nPostgres: statements per submission: intake {intake}, grading {graded} ({PROBLEMS} answers)")


def test_the_embedded_default_uses_as_few(tmp_path):
    """The same on SQLite, the database `make run` uses (was 23 statements at intake)."""
    import migrations
    from store.settings import Settings
    from web import create_app
    from web.auth import create_teacher

    url = f"sqlite:///{tmp_path / 'stepwise.sqlite'}"
    migrations.upgrade(url)
    app = create_app(Settings(database_url=url, secret_key="s" * 48, instance_dir=str(tmp_path), model_enabled=False))
    with app.app_context():
        _, token = create_teacher("count@school.test", "a long count password 3")
    try:
        intake, graded = _count(app.test_client(), {"Authorization": f"Bearer {token}"}, app)
    finally:
        db.dispose()
    print(f"\nSQLite: statements per submission: intake {intake}, grading {graded} ({PROBLEMS} answers)")
