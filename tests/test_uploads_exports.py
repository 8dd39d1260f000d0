"""Re-uploads never duplicate; deletes report the LMS side; gradebook exports; `stepwise batch --run`."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

from sqlalchemy import func, select
from support import ROOT

from store import grading
from store.db import db
from store.intake import AnswerIn, create_submission, parse_problems
from store.models import Answer, Assignment, Source, Submission, Teacher
from store.uploads import duplicates, store_upload


def _assignment(app, settings, teacher_id, keys=("2", "x = 3")) -> int:
    from web.intake import submit_assignment

    with app.app_context():
        owner = db.session.get(Teacher, teacher_id)
        problems = parse_problems([{"statement": f"P{i}", "answer": k} for i, k in enumerate(keys)])
        aid = submit_assignment(owner, "Quiz 1", problems, settings).id
        db.session.remove()
    return aid


def _rows(*students):
    return [
        (name, None, [AnswerIn(problem=i + 1, answer=a) for i, a in enumerate(answers)]) for name, answers in students
    ]


def _grade_all():
    for sid in db.session.scalars(select(Submission.id).where(Submission.status == "queued")).all():
        grading.grade_submission(db.session, sid)


def test_reupload_replaces_answers_in_place_or_skips(app, settings, teacher):
    aid = _assignment(app, settings, teacher.id)
    with app.app_context():
        assignment = db.session.get(Assignment, aid)
        first = store_upload(
            db.session, assignment, _rows(("Ada", ["2", "x=3"]), ("Ben", ["3", "x=1"])), Source.dashboard
        )
        assert len(first.created) == 2
        _grade_all()
        assert duplicates(db.session, assignment, [("ada ", None), ("Cy", None)]) == {"ada ": first.created[0]}
        again = store_upload(
            db.session, assignment, _rows(("ADA", ["2", "x=3"]), ("Ben", ["2", "x=3"])), Source.dashboard
        )
        assert again.to_dict() | {"submissions": None} == {
            "created": 0,
            "replaced": 1,
            "unchanged": 1,
            "skipped": 0,
            "submissions": None,
        }
        assert again.replaced == [first.created[1]]  # the same submission, answers swapped
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 2
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 4
        ben = db.session.get(Submission, first.created[1])
        assert ben.status == "queued" and [a.text for a in ben.answers] == ["2", "x=3"]
        skipped = store_upload(
            db.session, assignment, _rows(("Ben", ["9", "9"]), ("Cy", ["1", "1"])), Source.dashboard, mode="skip"
        )
        assert (len(skipped.skipped), len(skipped.created)) == (1, 1)
        assert [a.text for a in db.session.get(Submission, first.created[1]).answers] == ["2", "x=3"]


def _env(settings):
    return dict(
        os.environ,
        STEPWISE_DATABASE_URL=settings.database_url,
        STEPWISE_REDIS_URL=settings.redis_url,
        STEPWISE_SECRET_KEY=settings.secret_key,
        STEPWISE_INSTANCE_DIR=settings.instance_dir,
        STEPWISE_MODEL_ENABLED="0",
    )


def _stepwise(settings, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "stepwise.cli", *args],
        cwd=ROOT,
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_batch_file_without_external_id_never_duplicates(app, settings, teacher, tmp_path):
    aid = _assignment(app, settings, teacher.id)
    path = tmp_path / "night.csv"
    path.write_text("student,problem,answer\nAda,1,2\nAda,2,x=3\nBen,1,3\n")
    assert "queued 2 new submission(s)" in _stepwise(settings, "batch", str(aid), str(path)).stdout
    path.write_text("student,problem,answer\nAda,1,2\nAda,2,x=3\nBen,1,2\n")
    out = _stepwise(settings, "batch", str(aid), str(path)).stdout
    assert "queued 1 new submission(s), 1 already stored; 1 replaced" in out
    skip = _stepwise(settings, "batch", str(aid), str(path), "--on-duplicate", "skip").stdout
    assert "queued 0 new submission(s), 2 already stored" in skip
    with app.app_context():
        assert sorted(db.session.scalars(select(Submission.student))) == ["Ada", "Ben"]


def test_batch_run_wait_grades_with_a_progress_bar(app, settings, teacher, tmp_path, celery_worker):
    aid = _assignment(app, settings, teacher.id)
    path = tmp_path / "night.csv"
    path.write_text("student,problem,answer\nAda,1,2\nAda,2,x=3\nBen,1,3\nCy,1,two\n")
    done = _stepwise(settings, "batch", str(aid), str(path), "--run", "--wait", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "stored 3 new submission(s)" in done.stdout and "done: 3 graded" in done.stdout
    assert "3/3" in done.stderr and "sub/s" in done.stderr  # tqdm: count and rate
    with app.app_context():
        assert set(db.session.scalars(select(Submission.status))) == {"graded"}
    assert _stepwise(settings, "batch").returncode == 2


def test_deletes_report_counts_and_the_lms_gradebook(client, auth, app, settings, teacher):
    aid = _assignment(app, settings, teacher.id)
    with app.app_context():
        assignment = db.session.get(Assignment, aid)
        lms, _ = create_submission(
            db.session,
            assignment,
            student="Ada",
            answers=_rows(("Ada", ["2"]))[0][2],
            source=Source.lms,
            external_id="canvas-1",
            callback_url="https://lms.example/cb",
        )
        db.session.commit()
        store_upload(db.session, assignment, _rows(("Ben", ["2", "x=3"]), ("Cy", ["1"])), Source.dashboard)
        lms_id = lms.id
        ben = db.session.scalar(select(Submission.id).where(Submission.student == "Ben"))
    body = client.delete(f"/api/v1/submissions/{lms_id}", headers=auth).get_json()
    assert body["submissions"] == 1 and body["lms"]["linked"] == 1 and "gradebook" in body["lms"]["message"]
    body = client.delete(f"/api/v1/assignments/{aid}/students/ben", headers=auth).get_json()
    assert body["submissions"] == 1 and body["answers"] == 2 and body["lms"]["message"] is None
    assert client.get(f"/api/v1/submissions/{ben}", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/assignments/{aid}/students/nobody", headers=auth).status_code == 404
    body = client.delete(f"/api/v1/assignments/{aid}", headers=auth).get_json()
    assert body["submissions"] == 1 and body["problems"] == 2
    assert client.get(f"/api/v1/assignments/{aid}", headers=auth).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 0


def _csv(client, auth, url):
    resp = client.get(url, headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


def test_gradebook_one_row_per_student_latest_or_best_in_lms_forms(client, auth, app, settings, teacher):
    aid = _assignment(app, settings, teacher.id)
    with app.app_context():
        assignment = db.session.get(Assignment, aid)
        for student, answers in (
            ("ada@school.test", ["2", "x=3"]),
            ("ada@school.test", ["2", "x=1"]),
            ("Ben", ["1", "x=1"]),
        ):
            create_submission(
                db.session, assignment, student=student, source=Source.api, answers=_rows((student, answers))[0][2]
            )
        create_submission(
            db.session,
            assignment,
            student="Cy",
            source=Source.lms,
            external_id="c-1",
            lms_context={"lti": {"user_id": "u-77", "email": "cy@school.test"}},
            answers=_rows(("Cy", ["2", "x=3"]))[0][2],
        )
        db.session.commit()
        _grade_all()
    rows = _csv(client, auth, f"/api/v1/assignments/{aid}/gradebook.csv")
    assert rows[0][:5] == ["student", "email", "student_id", "submission", "status"]
    by = {r[0]: r for r in rows[1:]}
    assert len(rows) == 4 and by["ada@school.test"][-2] == "1" and by["ada@school.test"][1] == "ada@school.test"
    assert by["Cy"][1:3] == ["cy@school.test", "u-77"]
    best = {r[0]: r for r in _csv(client, auth, f"/api/v1/assignments/{aid}/gradebook.csv?pick=best")[1:]}
    assert best["ada@school.test"][-2] == "2"
    assert client.put("/api/v1/settings", json={"gradebook": "best"}, headers=auth).get_json() == {"gradebook": "best"}
    assert {r[0]: r for r in _csv(client, auth, f"/api/v1/assignments/{aid}/gradebook.csv")[1:]}["ada@school.test"][
        -2
    ] == "2"
    canvas = _csv(client, auth, f"/api/v1/assignments/{aid}/gradebook.csv?format=canvas")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"Quiz 1 ({aid})"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "2"
    assert ["Cy", "u-77", "", "cy@school.test", "", "2"] in canvas
    moodle = _csv(client, auth, f"/api/v1/assignments/{aid}/gradebook.csv?format=moodle")
    assert moodle[0] == ["Email address", "ID number", "Full name", f"Quiz 1 ({aid})"]
    assert ["cy@school.test", "u-77", "Cy", "2"] in moodle
    assert client.get(f"/api/v1/assignments/{aid}/gradebook.csv?format=x", headers=auth).status_code == 400
    report = client.get(f"/api/v1/assignments/{aid}/students/Cy/report", headers=auth).get_json()
    assert report["score"] == 2 and report["answers"][0]["statement"] == "P0"
    sub = report["submission"]
    assert client.get(f"/api/v1/submissions/{sub}/report", headers=auth).get_json()["student"] == "Cy"


def test_api_upload_previews_then_replaces_or_skips(client, auth, app, settings, teacher):
    aid = _assignment(app, settings, teacher.id)
    url = f"/api/v1/assignments/{aid}/uploads"
    body = {
        "submissions": [
            {"student": "Ada", "answers": [{"problem": 1, "answer": "2"}]},
            {"student": "Ben", "answers": [{"problem": 1, "answer": "3"}]},
        ]
    }
    first = client.post(url, json=body, headers=auth)
    assert first.status_code == 202 and first.get_json()["created"] == 2
    body["submissions"][1]["answers"][0]["answer"] = "2"
    preview = client.post(url, json={**body, "preview": True}, headers=auth).get_json()
    assert preview["preview"] is True and preview["replaced"] == 2 and set(preview["duplicates"]) == {"Ada", "Ben"}
    again = client.post(url, json=body, headers=auth).get_json()
    assert (again["created"], again["replaced"], again["unchanged"]) == (0, 1, 1)
    skip = client.post(url, json={**body, "on_duplicate": "skip"}, headers=auth).get_json()
    assert skip["skipped"] == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 2
    bad = client.post(
        url, json={"submissions": [{"student": "Cy", "answers": [{"problem": 9, "answer": "1"}]}]}, headers=auth
    )
    assert bad.status_code == 400 and bad.get_json()["field"] == "submissions[0].answers[0].problem"
