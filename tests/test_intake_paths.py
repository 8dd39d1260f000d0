"""Postgres stores a submission in one statement (`store.intake._insert_in_one_statement`); every
other database takes the portable ORM path. On Postgres both must store the same rows, and both
must return the stored submission for a repeated external id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from test_api import make_assignment

from store import intake
from store.db import db
from store.intake import AnswerIn, NewSubmission, intake_target
from store.models import Answer, Job, Source, Submission

BODY = {
    "title": "Paths",
    "problems": [
        {"statement": "Solve 3(x - 2) = 12", "answer": "6", "points": 2},
        {"statement": "Expand (x+1)^2", "answer": "x^2+2x+1"},
        {"statement": "Half of one", "answer": "1/2"},
    ],
}
ANSWERS = [
    AnswerIn(1, "x = 6", ("3(x - 2) = 12", "3x - 6 = 12", "3x = 18", "x = 6")),
    AnswerIn(3, '0,5 \u2014 \u00e9t\u00e9 "quoted" \\ back', ()),  # unicode, quotes, a backslash
    AnswerIn(2, "", ("",)),
]


def new(external_id: str | None, student: str = "L\u00e9a O'Brien") -> NewSubmission:
    context = {"course": "M\u00e4th", "nested": {"list": [1, 2.5, None, True]}}
    return NewSubmission(student, Source.lms, external_id, "https://lms.example/cb?a=1&b=2", 7, context)


def _stored(submission_id: int) -> tuple[dict, list[dict], list[dict]]:
    db.session.expire_all()
    sub = db.session.get(Submission, submission_id)
    skip = {"id", "external_id", "created_at", "updated_at"}
    row = {c.name: getattr(sub, c.key) for c in Submission.__table__.columns if c.name not in skip}
    answers = [
        {"problem_id": a.problem_id, "position": a.position, "text": a.text, "work": a.work}
        for a in db.session.scalars(select(Answer).where(Answer.submission_id == submission_id).order_by(Answer.id))
    ]
    jobs = [
        {c.name: getattr(j, c.key) for c in Job.__table__.columns if c.name not in {"id", "subject_id"}}
        for j in db.session.scalars(select(Job).where(Job.subject_id == submission_id))
    ]
    now = datetime.now(UTC)
    for stamp in (sub.created_at, sub.updated_at, *(j.pop("created_at") for j in jobs)):
        assert now - stamp < timedelta(minutes=1)
    for job in jobs:
        assert now - job.pop("enqueued_at") < timedelta(minutes=1)
    return row, answers, jobs


@pytest.mark.parametrize("external_id", [None, "file-17"])
def test_one_statement_and_the_portable_path_store_the_same_rows(app, client, auth, teacher, external_id):
    assignment = make_assignment(client, auth, BODY)
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        target = intake_target(db.session, assignment["id"])
        stored = {}
        for name, store in (("one", intake._insert_in_one_statement), ("portable", intake._insert_portably)):
            submission, created = store(db.session, target, ANSWERS, new(external_id and f"{external_id}-{name}"))
            db.session.commit()
            assert created and submission.id is not None
            stored[name] = _stored(submission.id)
            # the returned object is the stored row, without a read-back
            assert (submission.student, submission.status, submission.max_score) == (
                new(None).student,
                "queued",
                4.0,
            )
        one, portable = stored["one"], stored["portable"]
        assert one == portable
        assert [a["position"] for a in one[1]] == [1, 3, 2]
        assert one[2][0]["status"] == "queued" and one[2][0]["revision"] == 0
        db.session.remove()


@pytest.mark.parametrize("store", [intake._insert_in_one_statement, intake._insert_portably], ids=["one", "portable"])
def test_a_repeated_external_id_returns_the_stored_submission(app, client, auth, teacher, store):
    assignment = make_assignment(client, auth, BODY)
    with app.app_context():
        target = intake_target(db.session, assignment["id"])
        first, created = store(db.session, target, ANSWERS, new("same-file"))
        db.session.commit()
        again, created_again = store(db.session, target, ANSWERS[:1], new("same-file", student="Someone else"))
        db.session.commit()
        assert created and not created_again and again.id == first.id and again.student == first.student
        count = db.session.scalars(select(Answer.id).where(Answer.submission_id == first.id)).all()
        assert len(count) == 3  # nothing added by the repeat
        assert len(db.session.scalars(select(Job.id).where(Job.subject_id == first.id)).all()) == 1
        db.session.remove()
