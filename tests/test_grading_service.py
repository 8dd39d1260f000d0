"""The grading service: key first, a trusted model reference second, review otherwise."""

from __future__ import annotations

from sqlalchemy import func, select

from store import grading
from store.db import db
from store.intake import AnswerIn, ProblemIn, create_assignment, create_submission
from store.models import Grade, Job, ReferenceStatus, Source, Submission, Teacher


def _setup(app, teacher, problems, answers, reference_settings=None):
    with app.app_context():
        owner = db.session.get(Teacher, teacher.id)
        assignment, to_solve = create_assignment(
            db.session, owner, "T", problems, reference_settings=reference_settings
        )
        submission, _ = create_submission(db.session, assignment, student="S", answers=answers, source=Source.api)
        db.session.commit()
        return assignment.id, submission.id, to_solve


def test_keyless_problem_without_model_goes_to_review_and_key_regrades(app, teacher):
    _, sid, to_solve = _setup(
        app, teacher, [ProblemIn("What is 6*7?"), ProblemIn("1+1", "2")], [AnswerIn(1, "42"), AnswerIn(2, "2")]
    )
    assert to_solve == []  # no model on this install: nothing to queue
    with app.app_context():
        outcome = grading.grade_submission(db.session, sid)
        assert outcome.status == "needs_review"
        sub = db.session.get(Submission, sid)
        first, second = (a.grade for a in sub.answers)
        assert first.status == "needs_review" and first.feedback == grading.REVIEW_FEEDBACK
        assert second.status == "correct" and second.reference_source == "key"
        assert sub.score == 1
        problem = sub.answers[0].problem
        assert problem.reference.status == ReferenceStatus.unavailable.value
        # The teacher sets the key: the submission is queued again and grades in full.
        assert grading.set_key(db.session, problem, "42") == [sid]
        db.session.commit()
        assert grading.grade_submission(db.session, sid).status == "graded"
        assert db.session.get(Submission, sid).score == 2
        assert db.session.scalar(select(func.count()).select_from(Grade)) == 2
        assert db.session.scalar(select(func.count()).select_from(Job)) == 2


def test_model_reference_is_used_only_when_ready(app, teacher):
    settings = lambda: ("tiny-model", {"samples": 3})  # noqa: E731
    _, sid, to_solve = _setup(
        app, teacher, [ProblemIn("What is 6*7?")], [AnswerIn(1, "42")], reference_settings=settings
    )
    assert len(to_solve) == 1
    with app.app_context():
        assert grading.grade_submission(db.session, sid).status == "waiting"
        assert db.session.get(Submission, sid).status == "queued"
        sub = db.session.get(Submission, sid)
        ref = sub.answers[0].problem.reference
        ref.status, ref.final_answer, ref.agreement = ReferenceStatus.ready.value, "42", 1.0
        db.session.commit()
        assert grading.resume_waiting(db.session, ref.id) == [sid]
        db.session.commit()
        assert grading.grade_submission(db.session, sid).status == "graded"
        grade = db.session.get(Submission, sid).answers[0].grade
        assert grade.status == "correct" and grade.reference_source == "model"


def test_same_problem_text_reuses_one_reference(app, teacher):
    settings = lambda: ("tiny-model", {"samples": 3})  # noqa: E731
    first_id, _, first = _setup(app, teacher, [ProblemIn("Find  x:  2x = 4")], [AnswerIn(1, "2")], settings)
    second_id, _, second = _setup(app, teacher, [ProblemIn("Find x: 2x = 4")], [AnswerIn(1, "2")], settings)
    assert len(first) == 1 and second == []  # whitespace does not make a new problem, nor a second run
    with app.app_context():
        from store.models import Assignment

        refs = {db.session.get(Assignment, i).problems[0].reference_id for i in (first_id, second_id)}
        assert refs == set(first)


def test_step_credit_gives_method_marks_for_the_valid_steps_before_the_first_error(app, teacher):
    """Policy `step_credit`: right steps before a slip earn method marks (at most half the points)
    and the feedback says which steps were right; without the policy the same work earns nothing."""
    work = ("2x + 3 = 11", "2x = 8", "x = 5")  # the last step is the slip
    problems = [
        ProblemIn("Solve 2x + 3 = 11", "x = 4", 2.0, {"step_credit": True}),
        ProblemIn("Solve 2x + 3 = 11", "x = 4", 2.0),
    ]
    _, sid, _ = _setup(app, teacher, problems, [AnswerIn(1, "x = 5", work), AnswerIn(2, "x = 5", work)])
    with app.app_context():
        grading.grade_submission(db.session, sid)
        marked, plain = (a.grade for a in db.session.get(Submission, sid).answers)
        assert plain.status == "incorrect" and plain.score == 0
        assert marked.status == "partial" and 0 < marked.score <= 1.0
        assert "right" in marked.feedback and "first error" in marked.feedback
        assert marked.first_error == 2


def test_a_key_changed_while_grading_computed_drops_the_stale_result(app, teacher):
    """Grading reads, computes with no transaction open, then settles its job with one guarded
    UPDATE: a key set in between bumped the job's revision, so the stale verdicts are dropped and
    the next run grades against the new key."""
    from sqlalchemy.orm import Session

    from store import jobs
    from store.models import JobStatus

    _, sid, _ = _setup(app, teacher, [ProblemIn("1 + 1", "3")], [AnswerIn(1, "2")])
    with app.app_context():
        task = db.session()
        _submission, job = grading._load(task, sid)  # the task's one read
        assert job.status == JobStatus.queued.value
        with Session(db.engine) as other:  # the teacher fixes the key meanwhile
            problem = other.get(Submission, sid).answers[0].problem
            assert grading.set_key(other, problem, "2") == [sid]
            other.commit()
        assert not jobs.settle(task, job, "stale-task", JobStatus.done)
        task.rollback()
        assert db.session.scalar(select(func.count()).select_from(Grade)) == 0
        assert grading.grade(db.session, sid, "next-task").status == "graded"
        assert db.session.get(Submission, sid).score == 1  # against the new key
        assert grading.grade(db.session, sid, "duplicate").status == "skipped"  # a second message
        assert db.session.scalar(select(func.count()).select_from(Grade)) == 1


def test_a_verdict_made_by_one_worker_is_reused_by_another(app, teacher):
    """The shared verdicts (Redis here) let a worker with a cold grader cache skip the checks
    another worker made already; the grades are the same."""
    import grader
    from store import verdicts

    verdicts.shared.configure(redis_url=app.config["STEPWISE"].redis_url)  # the app's, as a worker does
    problems = [ProblemIn("x^2 - 1", "(x - 1)(x + 1)"), ProblemIn("half", "1/2")]
    answers = [AnswerIn(1, "(x+1)*(x-1)", ("x^2 - 1 = (x-1)(x+1)",)), AnswerIn(2, "0.5")]
    _, first, _ = _setup(app, teacher, problems, answers)
    _, second, _ = _setup(app, teacher, problems, answers)
    with app.app_context():
        assert grading.grade(db.session, first, "worker-a").status == "graded"
        grader.clear_cache()  # another process: nothing in its own cache
        before = grader.cache_info()
        assert grading.grade(db.session, second, "worker-b").status == "graded"
        after = grader.cache_info()
        assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])  # no check ran
        a, b = (db.session.get(Submission, s) for s in (first, second))
        assert [(g.grade.status, g.grade.score, g.grade.feedback) for g in a.answers] == [
            (g.grade.status, g.grade.score, g.grade.feedback) for g in b.answers
        ]


def test_verdicts_cut_short_by_a_time_limit_are_not_shared(tmp_path):
    from store import verdicts

    assert not verdicts.shareable({"status": "timeout", "steps": {"steps": []}})
    assert not verdicts.shareable({"status": "correct", "steps": {"steps": [{"status": "timeout"}]}})
    assert verdicts.shareable({"status": "correct", "steps": {"steps": [{"status": "valid"}]}})
    # The embedded default shares them through a file that every worker process opens.
    one, two = verdicts.FileVerdicts(tmp_path / "v.sqlite"), verdicts.FileVerdicts(tmp_path / "v.sqlite")
    key = verdicts.cache_key("2", [], "2", {}, 2.0)
    assert two.get_many([key]) == [None]
    one.put_many({key: {"status": "correct", "fraction": 1.0}})
    assert two.get_many([key]) == [{"status": "correct", "fraction": 1.0}]
    assert verdicts.cache_key("2", [], "2", {}, 1.0) != key  # the time limit is part of the key
    assert verdicts.cache_key("x" * 30_000, [], "2", {}, 2.0) is None  # too long to store
    one.close(), two.close()


def test_an_override_made_while_a_grading_computed_is_not_written_over(app, teacher):
    """A teacher's override commits while a regrade is computing: the regrade's result is dropped
    (the override bumped its job), and the next run applies the override."""
    from sqlalchemy.orm import Session

    from store import jobs
    from store.models import JobStatus
    from store.overrides import override_answer

    _, sid, _ = _setup(app, teacher, [ProblemIn("1 + 1", "2")], [AnswerIn(1, "3")])
    with app.app_context():
        assert grading.grade_submission(db.session, sid).status == "graded"
        jobs.open_job(db.session, jobs.GRADE, sid)  # a regrade is queued (`stepwise requeue`, say)
        db.session.commit()
        task = db.session()
        _submission, job = grading._load(task, sid)  # the regrade's one read
        with Session(db.engine) as other:
            override_answer(other, teacher.id, other.get(Submission, sid).answers[0], 1.0, "Accepted")
        assert not jobs.settle(task, job, "regrade", JobStatus.done)
        task.rollback()
        assert grading.grade(db.session, sid, "next").status == "graded"
        grade = db.session.get(Submission, sid).answers[0].grade
        assert (grade.score, grade.reference_source, grade.feedback) == (1.0, "teacher", "Accepted")
