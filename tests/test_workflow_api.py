"""Teacher workflow API (issue 9): progress, answer groups, overrides with audit, review, regrade."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from store import grading
from store.db import db
from store.models import Answer, Submission
from store.workflow import OverrideAudit

ASSIGNMENT = {
    "title": "Mixed",
    "problems": [
        {"statement": "Simplify 2/4", "answer": "1/2", "points": 2},
        {"statement": "Solve x + 1 = 3", "answer": "x = 2"},
        {"statement": "Integrate e^(x^2) from 0 to 1"},  # no key, no model in tests: needs review
    ],
}
CLASS = {
    "Ada": ["1/2", "x=2", "1.46"],
    "Ben": ["0.5", "x = 2", "1.46"],
    "Cy": ["1/3", "2", "1.5"],
    "Dee": [" 1/2 ", "x=3", "?"],
    "Eve": ["1/3", "x=3", "1.46"],
}


def make(client, auth, body=ASSIGNMENT):
    resp = client.post("/api/v1/assignments", json=body, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def submit(client, auth, assignment_id, student, answers):
    body = {"student": student, "answers": [{"problem": i + 1, "answer": a} for i, a in enumerate(answers)]}
    resp = client.post(f"/api/v1/assignments/{assignment_id}/submissions", json=body, headers=auth)
    assert resp.status_code == 202
    return resp.get_json()["id"]


def grade_all(app):
    with app.app_context():
        ids = db.session.scalars(select(Submission.id).where(Submission.status == "queued")).all()
        for sid in ids:
            grading.grade_submission(db.session, sid)
        db.session.remove()


def setup_class(client, auth, app, klass=CLASS):
    aid = make(client, auth)
    subs = {name: submit(client, auth, aid, name, answers) for name, answers in klass.items()}
    grade_all(app)
    return aid, subs


def answer_id(app, submission_id, position):
    with app.app_context():
        return db.session.scalar(
            select(Answer.id).where(Answer.submission_id == submission_id, Answer.position == position)
        )


def get(client, auth, url):
    resp = client.get(url, headers=auth)
    assert resp.status_code == 200, (url, resp.get_json())
    return resp.get_json()


def test_progress_counts_submissions_by_state(client, auth, app):
    aid = make(client, auth)
    submit(client, auth, aid, "Ada", ["1/2", "x=2"])
    body = get(client, auth, f"/api/v1/assignments/{aid}/progress")
    assert body == {"total": 1, "queued": 1, "grading": 0, "graded": 0, "needs_review": 0, "failed": 0}
    submit(client, auth, aid, "Ben", ["1/2", "x=2", "1"])
    grade_all(app)
    body = get(client, auth, f"/api/v1/assignments/{aid}/progress")
    assert body == {"total": 2, "queued": 0, "grading": 0, "graded": 1, "needs_review": 1, "failed": 0}


def test_needs_review_is_null_not_zero_in_api_and_csv(client, auth, app):
    aid, subs = setup_class(client, auth, app)
    body = get(client, auth, f"/api/v1/submissions/{subs['Ada']}")
    assert body["status"] == "needs_review" and body["score"] is None and body["needs_review"] == 1
    third = body["answers"][2]
    assert third["status"] == "needs_review" and third["score"] is None
    assert body["answers"][0]["score"] == 2 and body["answers"][0]["graded_by"] == "grader"
    text = client.get(f"/api/v1/assignments/{aid}/grades.csv", headers=auth).get_data(as_text=True)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["student"] == "Ada")
    assert row["problem 3"] == "needs review" and row["total"] == ""


def test_groups_by_text_then_equivalence(client, auth, app):
    aid, _ = setup_class(client, auth, app)
    rows = get(client, auth, f"/api/v1/assignments/{aid}/problems/1/groups")
    by_answer = {r["answer"]: r for r in rows}
    # "1/2", " 1/2 " (same text) and "0.5" (equal, same verdict) are one group of three.
    assert by_answer["1/2"]["size"] == 3 and "0.5" not in by_answer
    assert by_answer["1/3"]["size"] == 2
    assert sum(r["size"] for r in rows) == 5
    assert set(rows[0]) == {
        "id",
        "answer",
        "interpreted",
        "size",
        "status",
        "score",
        "points",
        "feedback",
        "overridden",
    }
    assert by_answer["1/2"]["status"] == "correct" and by_answer["1/2"]["score"] == 2
    assert by_answer["1/3"]["status"] == "incorrect" and by_answer["1/3"]["overridden"] is False
    again = get(client, auth, f"/api/v1/assignments/{aid}/problems/1/groups")
    assert {r["id"] for r in again} == {r["id"] for r in rows}  # stable ids
    assert client.get(f"/api/v1/assignments/{aid}/problems/9/groups", headers=auth).status_code == 404


def test_group_override_applies_to_members_later_students_and_survives_regrade(client, auth, app):
    aid, subs = setup_class(client, auth, app)
    group = next(r for r in get(client, auth, f"/api/v1/assignments/{aid}/problems/2/groups") if r["answer"] == "x=3")
    assert group["size"] == 2
    resp = client.post(
        f"/api/v1/groups/{group['id']}/override", json={"score": 0.5, "feedback": "Check the sign."}, headers=auth
    )
    assert resp.status_code == 200 and resp.get_json()["answers"] == 2
    dee = get(client, auth, f"/api/v1/submissions/{subs['Dee']}")
    assert dee["answers"][1]["score"] == 0.5 and dee["answers"][1]["graded_by"] == "teacher"
    assert dee["answers"][1]["feedback"] == "Check the sign." and dee["answers"][1]["status"] == "partial"
    # A later student with the same answer (another spelling) gets the teacher's grade too.
    late = submit(client, auth, aid, "Fay", ["1/2", "x = 3", "1"])
    grade_all(app)
    assert get(client, auth, f"/api/v1/submissions/{late}")["answers"][1]["score"] == 0.5
    # A key change regrades; the override stands.
    resp = client.patch(f"/api/v1/assignments/{aid}/problems/2", json={"answer": "2"}, headers=auth)
    assert resp.status_code == 200
    assert get(client, auth, f"/api/v1/submissions/{subs['Eve']}")["answers"][1]["score"] == 0.5
    groups = get(client, auth, f"/api/v1/assignments/{aid}/problems/2/groups")
    assert next(r for r in groups if r["id"] == group["id"])["overridden"] is True
    # Undo: the grader's verdict is back, and both were audited.
    assert client.delete(f"/api/v1/groups/{group['id']}/override", headers=auth).status_code == 200
    eve = get(client, auth, f"/api/v1/submissions/{subs['Eve']}")["answers"][1]
    assert eve["score"] == 0 and eve["graded_by"] == "grader"
    assert client.delete(f"/api/v1/groups/{group['id']}/override", headers=auth).status_code == 404
    history = get(client, auth, f"/api/v1/overrides?group={group['id']}")
    assert [h["action"] for h in history] == ["undo", "set"]
    assert history[1]["old"]["score"] == 0 and history[1]["new"]["score"] == 0.5
    assert history[1]["answers"] == 2 and history[0]["answers"] == 3


def test_answer_override_updates_totals_and_is_audited(client, auth, app, teacher):
    _, subs = setup_class(client, auth, app)
    aid3 = answer_id(app, subs["Ada"], 3)
    resp = client.post(f"/api/v1/answers/{aid3}/override", json={"score": 1}, headers=auth)
    assert resp.status_code == 200
    ada = get(client, auth, f"/api/v1/submissions/{subs['Ada']}")
    assert ada["status"] == "graded" and ada["score"] == 4  # 2 + 1 + 1
    assert ada["answers"][2]["overridden"] is True and ada["answers"][2]["feedback"] == "Graded by your teacher."
    for bad in ({"score": 5}, {"score": -1}, {"score": "1"}, {"feedback": "x"}, {"score": 1, "feedback": 3}):
        r = client.post(f"/api/v1/answers/{aid3}/override", json=bad, headers=auth)
        assert r.status_code == 400 and r.get_json()["field"] in ("score", "feedback"), bad
    with app.app_context():
        rows = db.session.scalars(select(OverrideAudit)).all()
        assert len(rows) == 1
        assert (rows[0].teacher_id, rows[0].old_status, rows[0].new_status) == (teacher.id, "needs_review", "correct")
    assert client.delete(f"/api/v1/answers/{aid3}/override", headers=auth).status_code == 200
    ada = get(client, auth, f"/api/v1/submissions/{subs['Ada']}")
    assert ada["status"] == "needs_review" and ada["answers"][2]["score"] is None


def test_answer_override_wins_over_group_override(client, auth, app):
    aid, subs = setup_class(client, auth, app)
    a = answer_id(app, subs["Cy"], 1)
    client.post(f"/api/v1/answers/{a}/override", json={"score": 1.5}, headers=auth)
    group = next(r for r in get(client, auth, f"/api/v1/assignments/{aid}/problems/1/groups") if r["answer"] == "1/3")
    assert (
        client.post(f"/api/v1/groups/{group['id']}/override", json={"score": 1}, headers=auth).get_json()["answers"]
        == 1
    )
    assert get(client, auth, f"/api/v1/submissions/{subs['Cy']}")["answers"][0]["score"] == 1.5
    assert get(client, auth, f"/api/v1/submissions/{subs['Eve']}")["answers"][0]["score"] == 1


def test_review_queue_lists_reasons_and_resolves_in_one_action(client, auth, app):
    aid, _ = setup_class(client, auth, app)
    items = get(client, auth, "/api/v1/review")
    reasons = {(i["student"], i["problem"]): i["reason"] for i in items}
    assert reasons[("Ada", 3)] == "no_key" and reasons[("Dee", 3)] in ("no_key", "unreadable")
    assert len([i for i in items if i["problem"] == 3]) == 5
    item = next(i for i in items if i["student"] == "Ada")
    assert {"answer", "interpreted", "key", "model_answer", "message", "statement"} <= set(item)
    # no reference to accept: a score is needed
    assert (
        client.post(f"/api/v1/review/{item['answer_id']}", json={"action": "accept"}, headers=auth).status_code == 400
    )
    resp = client.post(f"/api/v1/review/{item['answer_id']}", json={"action": "correct", "score": 1}, headers=auth)
    assert resp.status_code == 200
    left = get(client, auth, f"/api/v1/review?assignment={aid}")
    assert item["answer_id"] not in {i["answer_id"] for i in left} and len(left) == len(items) - 1


def test_regrade_reports_only_changed_answers(client, auth, app):
    aid, subs = setup_class(client, auth, app)
    resp = client.patch(f"/api/v1/assignments/{aid}/problems/1", json={"answer": "1/3"}, headers=auth)
    body = resp.get_json()
    assert resp.status_code == 200 and body["regraded"] == 5
    assert body["changed_count"] == 5 and body["message"] == "5 answers changed"
    resp = client.patch(f"/api/v1/assignments/{aid}/problems/1", json={"policy": {"mode": "numeric"}}, headers=auth)
    assert resp.get_json()["changed_count"] == 0
    assert (
        client.patch(f"/api/v1/assignments/{aid}/problems/1", json={"policy": {"bogus": 1}}, headers=auth).status_code
        == 400
    )
    assert get(client, auth, f"/api/v1/submissions/{subs['Cy']}")["answers"][0]["score"] == 2


def test_other_teachers_get_404(client, auth, app):
    from web.auth import create_teacher

    aid, subs = setup_class(client, auth, app)
    with app.app_context():
        _, token = create_teacher("other@school.test", "pw-pw-pw-pw")
    other = {"Authorization": f"Bearer {token}"}
    group = get(client, auth, f"/api/v1/assignments/{aid}/problems/1/groups")[0]
    a = answer_id(app, subs["Ada"], 1)
    for method, url in (
        ("get", f"/api/v1/assignments/{aid}/progress"),
        ("get", f"/api/v1/assignments/{aid}/problems/1/groups"),
        ("post", f"/api/v1/groups/{group['id']}/override"),
        ("post", f"/api/v1/answers/{a}/override"),
        ("delete", f"/api/v1/submissions/{subs['Ada']}"),
        ("delete", f"/api/v1/assignments/{aid}"),
    ):
        resp = getattr(client, method)(url, json={"score": 0} if method == "post" else None, headers=other)
        assert resp.status_code == 404, url
    assert get(client, auth, "/api/v1/review") and client.get("/api/v1/review", headers=other).get_json() == []


def test_review_flags_unreadable_answers_and_a_key_the_model_disagrees_with(client, auth, app):
    from store.models import Problem, ReferenceSolution

    aid = make(client, auth, {"title": "Keys", "problems": [{"statement": "2+3", "answer": "5"}]})
    with app.app_context():
        problem = db.session.scalar(select(Problem).where(Problem.assignment_id == aid))
        problem.reference = ReferenceSolution(
            cache_key="k" * 64,
            statement_hash="h" * 64,
            statement="2+3",
            model_id="m",
            status="ready",
            final_answer="6",
            agreement=0.8,
        )
        grading.refresh_disagreement(problem)
        db.session.commit()
    subs = {
        name: submit(client, auth, aid, name, [text])
        for name, text in (("Ada", "5"), ("Ben", "6"), ("Cy", "7"), ("Dee", "@@@"))
    }
    grade_all(app)
    items = {i["student"]: i for i in get(client, auth, f"/api/v1/review?assignment={aid}")}
    # Ada and Ben's grades depend on whether the key or the model is right; Cy is wrong either way.
    assert items["Ada"]["reason"] == "key_disagrees" and items["Ben"]["reason"] == "key_disagrees"
    assert items["Ada"]["key"] == "5" and items["Ada"]["model_answer"] == "6"
    assert items["Dee"]["reason"] == "unreadable" and "Cy" not in items
    resp = client.post(f"/api/v1/review/{items['Ada']['answer_id']}", json={"action": "accept"}, headers=auth)
    assert resp.status_code == 200
    ada = get(client, auth, f"/api/v1/submissions/{subs['Ada']}")
    assert ada["answers"][0]["score"] == 1 and ada["answers"][0]["graded_by"] == "teacher"
    assert "Ada" not in {i["student"] for i in get(client, auth, "/api/v1/review")}
    assert get(client, auth, "/api/v1/overrides")[0]["action"] == "accept"
    assert client.get("/api/v1/review?assignment=abc", headers=auth).status_code == 400
    assert client.get("/api/v1/review?bogus=1", headers=auth).status_code == 400
