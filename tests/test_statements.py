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
        statements.append(statement.split()[0].upper())

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


def test_intake_and_grading_statements_do_not_grow_with_the_answers(client, auth, app):
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
    assert len(many_graded) == len(few_graded), (few_graded, many_graded)
    assert len(many_in) <= 5, many_in  # the target: a handful at intake and at grading
    assert len(many_graded) <= 5, many_graded
    print(f"\nstatements per submission: intake {len(many_in)}, grading {len(many_graded)} ({PROBLEMS} answers)")
