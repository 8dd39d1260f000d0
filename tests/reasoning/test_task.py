"""The reasoning task's pipeline in-process (SQLite): claim, batch, vote, store, resume grading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.models import Answer, Assignment, Problem, ReferenceSolution, Submission, Teacher
from store.reasoning import AGING_S, BATCH, INTERACTIVE, claim_batch
from worker.engine import FatalDeviceError, GenerationTimeout
from worker.generation import Sample
from worker.keys import generation_settings, reference_cache_key
from worker.reference import solve_reference as _solve_reference


def solve_reference(reference_id, settings, *, enqueue_grading, enqueue_reasoning=None, **kwargs):
    requeued = [] if enqueue_reasoning is None else None
    return _solve_reference(
        reference_id,
        settings,
        enqueue_grading=enqueue_grading,
        enqueue_reasoning=enqueue_reasoning or requeued.append,
        **kwargs,
    )


def add_reference(session, settings, statement: str, **fields) -> ReferenceSolution:
    gen = generation_settings(settings)
    key, s_hash = reference_cache_key(statement, settings.model, gen)
    ref = ReferenceSolution(
        cache_key=key, statement_hash=s_hash, statement=statement, model_id=settings.model, settings=gen, **fields
    )
    session.add(ref)
    session.flush()
    return ref


def add_waiting_submission(session, ref: ReferenceSolution) -> int:
    teacher = Teacher(email=f"t{ref.id}@example.org", password_hash="x")
    assignment = Assignment(teacher=teacher, title="HW")
    problem = Problem(position=1, statement=ref.statement, reference_id=ref.id)
    assignment.problems.append(problem)
    session.add_all([teacher, assignment])
    session.flush()
    submission = Submission(assignment=assignment, teacher_id=teacher.id, student="ada", source="api", status="queued")
    session.add(submission)
    session.flush()
    session.add(Answer(submission_id=submission.id, problem_id=problem.id, position=1, text="1/2"))
    session.flush()
    return submission.id


class FakeRunner:
    """Stands in for ModelRunner where the test needs exact answers (a random model writes noise)."""

    model_id = "fake-model"

    def __init__(self, answers_by_statement, error=None):
        self.answers = answers_by_statement
        self.error = error
        self.calls = []

    def ensure_ready(self):
        return self

    def _samples(self, job):
        return [
            Sample(
                text=f"think\n</think>\n\n\\boxed{{{a}}}" if a else "think",
                answer=a,
                completion_tokens=7,
                truncated=a is None,
                forced=a is None,
                prompt_tokens=11,
                latency_s=0.5,
            )
            for a in self.answers[job.statement][: job.samples]
        ]

    def run(self, jobs, *, more=None, on_done=None, deadline=None):
        """As ModelRunner.run: each job's samples reported when done, refills asked for until none."""
        self.calls.append(([job.statement for job in jobs], jobs[0].samples, {"deadline": deadline}))
        if self.error:
            raise self.error
        done = {}
        while jobs:
            for job in jobs:
                done[job.key] = self._samples(job)
                if on_done is not None:
                    on_done(job.key, done[job.key])
            jobs = more(8) if more is not None else []
            self.calls[-1][0].extend(job.statement for job in jobs)
        return done


def test_batch_vote_store_and_resume(sqlite_db, tiny_settings):
    with sqlite_db.transaction() as s:
        agree = add_reference(s, tiny_settings, "What is 1/3 + 1/6?")
        split = add_reference(s, tiny_settings, "Hard problem")
        blank = add_reference(s, tiny_settings, "Impossible problem")
        waiting = add_waiting_submission(s, agree)
        ids = (agree.id, split.id, blank.id)
    runner = FakeRunner(
        {
            "What is 1/3 + 1/6?": ["1/2", "0.5", "2/9"],
            "Hard problem": ["1", "2", "3"],
            "Impossible problem": [None, None, None],
        }
    )
    queued = []
    statuses = solve_reference(ids[1], tiny_settings, runner=runner, enqueue_grading=queued.append)
    assert len(runner.calls) == 1 and len(runner.calls[0][0]) == 3  # all three in one batch
    assert runner.calls[0][2]["deadline"] is not None  # the generation loop gets the time limit
    assert runner.calls[0][1] == 3
    assert statuses == {ids[1]: "needs_review", ids[0]: "ready", ids[2]: "needs_review"}
    assert queued == [waiting]  # after the commit, once
    s = sqlite_db.session()
    ready = s.get(ReferenceSolution, ids[0])
    assert ready.final_answer == "1/2" and ready.agreement == pytest.approx(2 / 3)
    assert [x["answer"] for x in ready.samples] == ["1/2", "0.5", "2/9"]
    assert set(ready.samples[0]) == {"text", "answer", "completion_tokens", "truncated", "forced"}
    assert ready.reasoning.endswith("\\boxed{1/2}") and ready.model_id == "fake-model"
    assert ready.prompt_tokens == 11 and ready.completion_tokens == 21 and ready.latency_s == 0.5
    assert ready.settings == generation_settings(tiny_settings)
    assert s.get(ReferenceSolution, ids[1]).agreement == pytest.approx(1 / 3)
    none = s.get(ReferenceSolution, ids[2])
    assert none.final_answer is None and none.agreement == 0.0 and none.error
    # idempotent: a second delivery of any of them does nothing
    assert solve_reference(ids[0], tiny_settings, runner=runner, enqueue_grading=queued.append) == {}
    assert len(runner.calls) == 1


def test_running_rows_are_skipped_unless_stale(sqlite_db, tiny_settings):
    old = datetime.now(UTC) - timedelta(seconds=tiny_settings.reasoning_time_limit + 60)
    with sqlite_db.transaction() as s:
        busy = add_reference(s, tiny_settings, "busy", status="running").id
        stale = add_reference(s, tiny_settings, "stale", status="running")
        stale.updated_at = old
        s.flush()
        stale_id = stale.id
    s = sqlite_db.session()
    s.get(ReferenceSolution, stale_id).updated_at = old
    s.commit()
    runner = FakeRunner({"busy": ["1"] * 3, "stale": ["2"] * 3})
    # The message for the busy row wakes a worker up: it leaves the fresh "running" row to its
    # worker and takes over the stale one (its worker is gone).
    assert solve_reference(busy, tiny_settings, runner=runner, enqueue_grading=list().append) == {stale_id: "ready"}
    assert runner.calls[0][0] == ["stale"]
    assert solve_reference(stale_id, tiny_settings, runner=runner, enqueue_grading=list().append) == {}


def test_model_unavailable_marks_rows_and_still_resumes(sqlite_db, settings_factory, tmp_path, caplog):
    settings = settings_factory(tmp_path / "missing-model")
    with sqlite_db.transaction() as s:
        ref = add_reference(s, settings, "No model here")
        waiting = add_waiting_submission(s, ref)
        ref_id = ref.id
    queued = []
    from worker.runtime import ModelRunner

    with caplog.at_level("ERROR", logger="stepwise.reasoning"):
        statuses = solve_reference(ref_id, settings, runner=ModelRunner(settings), enqueue_grading=queued.append)
    assert statuses == {ref_id: "unavailable"}
    row = sqlite_db.session().get(ReferenceSolution, ref_id)
    assert "huggingface-cli download deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B" in row.error
    assert queued == [waiting]
    assert any("reasoning.model_unavailable" in r.getMessage() for r in caplog.records)


def test_fatal_cuda_error_releases_rows_and_exits(sqlite_db, tiny_settings):
    with sqlite_db.transaction() as s:
        ref_a = add_reference(s, tiny_settings, "a")
        b = add_reference(s, tiny_settings, "b").id
        waiting = add_waiting_submission(s, ref_a)
        a = ref_a.id
    runner = FakeRunner({}, error=FatalDeviceError("CUDA error: an illegal memory access was encountered"))
    exits, requeued, graded = [], [], []
    solve_reference(
        a,
        tiny_settings,
        runner=runner,
        enqueue_grading=graded.append,
        enqueue_reasoning=requeued.append,
        exit_process=exits.append,
    )
    assert exits == [1] and sorted(requeued) == [a, b] and graded == []
    s = sqlite_db.session()
    assert {s.get(ReferenceSolution, i).status for i in (a, b)} == {"pending"}
    # the same batch crashing a second worker fails it instead of looping
    solve_reference(
        a,
        tiny_settings,
        runner=runner,
        enqueue_grading=graded.append,
        enqueue_reasoning=requeued.append,
        exit_process=exits.append,
    )
    s.expire_all()
    assert {s.get(ReferenceSolution, i).status for i in (a, b)} == {"failed"}
    assert graded == [waiting] and exits == [1, 1]
    with pytest.raises(FatalDeviceError):  # outside a worker it is raised, not os._exit
        with sqlite_db.transaction() as s2:
            c = add_reference(s2, tiny_settings, "c").id
        solve_reference(c, tiny_settings, runner=runner, enqueue_grading=list().append)


def test_real_tiny_model_through_the_task(sqlite_db, tiny_settings, tiny_runner):
    """One delivery claims batch_size rows, then streams the rest in as slots free: one engine run."""
    from dataclasses import replace

    settings = replace(tiny_settings, batch_size=2)
    statements = ["What is 2+2?", "Simplify \\sqrt{18}.", "Solve 2x + 3 = 7.", "Factor x^2 - 1.", "What is 1/2 + 1/3?"]
    with sqlite_db.transaction() as s:
        ids = [add_reference(s, settings, p).id for p in statements]
    calls = tiny_runner.generate_calls
    statuses = solve_reference(ids[0], settings, runner=tiny_runner, enqueue_grading=list().append)
    assert set(statuses) == set(ids) and set(statuses.values()) <= {"ready", "needs_review"}
    assert tiny_runner.generate_calls - calls == 1  # five problems, batch_size 2: refilled, not re-batched
    s = sqlite_db.session()
    for i in ids:
        row = s.get(ReferenceSolution, i)
        assert len(row.samples) == settings.samples and row.status in ("ready", "needs_review")
        assert row.reasoning and row.completion_tokens >= settings.samples * min(settings.max_new_tokens, 1)
        assert row.model_id == tiny_runner.model_id and row.latency_s > 0


def _age(session, ref_id, seconds):
    row = session.get(ReferenceSolution, ref_id)
    row.created_at = datetime.now(UTC) - timedelta(seconds=seconds)


def test_interactive_work_is_claimed_before_batch_work_with_aging(sqlite_db, tiny_settings):
    with sqlite_db.transaction() as s:
        nightly = [add_reference(s, tiny_settings, f"nightly {n}", priority=BATCH).id for n in range(3)]
        for ref_id in nightly:
            _age(s, ref_id, 60)
        teacher_waits = add_reference(s, tiny_settings, "a teacher is waiting", priority=INTERACTIVE).id
    with sqlite_db.transaction() as s:  # the nightly message came first, but the waiting teacher goes first
        claimed = [c.id for c in claim_batch(s, nightly[0], limit=2, lease_s=3600)]
    assert claimed == [teacher_waits, nightly[0]]
    with sqlite_db.transaction() as s:
        old = add_reference(s, tiny_settings, "nightly, waiting for ages", priority=BATCH).id
        _age(s, old, AGING_S + 60)
        fresh = add_reference(s, tiny_settings, "another teacher", priority=INTERACTIVE).id
    with sqlite_db.transaction() as s:  # aging: the old batch row now beats newer interactive work
        claimed = [c.id for c in claim_batch(s, fresh, limit=2, lease_s=3600)]
    assert claimed == [old, fresh]


def test_a_dead_workers_rows_are_retried_once_and_its_late_write_is_dropped(sqlite_db, tiny_settings):
    with sqlite_db.transaction() as s:
        ref_id = add_reference(s, tiny_settings, "What is 2+2?").id
    with sqlite_db.transaction() as s:  # worker A claims and then dies (its process is gone)
        dead_claim = claim_batch(s, ref_id, limit=4, lease_s=tiny_settings.reasoning_time_limit)
    runner = FakeRunner({"What is 2+2?": ["4", "4", "4"]})
    # The redelivered message while A's lease is fresh: nothing to do (A may still be alive).
    assert solve_reference(ref_id, tiny_settings, runner=runner, enqueue_grading=list().append) == {}
    s = sqlite_db.session()
    s.get(ReferenceSolution, ref_id).updated_at = datetime.now(UTC) - timedelta(
        seconds=tiny_settings.reasoning_time_limit + 1
    )
    s.commit()
    # After the lease, worker B takes the row over and writes the one reference.
    assert solve_reference(ref_id, tiny_settings, runner=runner, enqueue_grading=list().append) == {ref_id: "ready"}
    from store.reasoning import store_outcomes

    with sqlite_db.transaction() as s2:  # A's late outcome is not written over B's
        assert store_outcomes(s2, dead_claim, {ref_id: {"final_answer": "5", "status": "ready"}}) == {}
    s.expire_all()
    rows = s.query(ReferenceSolution).all()
    assert len(rows) == 1 and rows[0].final_answer == "4" and len(runner.calls) == 1


def test_time_limit_inside_generation_fails_the_batch_and_resumes_waiters(sqlite_db, tiny_settings):
    with sqlite_db.transaction() as s:
        ref = add_reference(s, tiny_settings, "A very long think")
        waiting = add_waiting_submission(s, ref)
        ref_id = ref.id
    runner = FakeRunner({}, error=GenerationTimeout("the reasoning time limit passed during generation"))
    queued = []
    assert solve_reference(ref_id, tiny_settings, runner=runner, enqueue_grading=queued.append) == {ref_id: "failed"}
    row = sqlite_db.session().get(ReferenceSolution, ref_id)
    assert row.status == "failed" and row.error.startswith("time limit")
    assert queued == [waiting]  # the waiting submission goes to teacher review instead of waiting forever


def test_unreadable_and_cut_off_answers_never_make_a_reference_ready(sqlite_db, tiny_settings):
    with sqlite_db.transaction() as s:
        ref_id = add_reference(s, tiny_settings, "Cut off").id
    runner = FakeRunner({"Cut off": ["\\frac{1}{", "\\frac{1}{", "\\frac{1}{"]})
    assert solve_reference(ref_id, tiny_settings, runner=runner, enqueue_grading=list().append) == {
        ref_id: "needs_review"
    }
    row = sqlite_db.session().get(ReferenceSolution, ref_id)
    assert row.final_answer is None and row.agreement == 0.0 and "grader can read" in row.error


def test_keyed_problems_use_no_gpu_unless_worked_solutions_are_asked(sqlite_db, tiny_settings):
    from store.intake import ProblemIn, create_assignment

    def settings_fn():
        return tiny_settings.model, generation_settings(tiny_settings)

    problems = [ProblemIn("What is 6*7?"), ProblemIn("1+1", "2")]
    with sqlite_db.transaction() as s:
        teacher = Teacher(email="k@example.org", password_hash="x")
        s.add(teacher)
        s.flush()
        nightly, to_solve = create_assignment(
            s, teacher, "Nightly import", problems, reference_settings=settings_fn, priority=BATCH
        )
        keyed = nightly.problems[1]
        assert keyed.reference is None and len(to_solve) == 1  # only the keyless problem goes to the model
        keyless_ref = nightly.problems[0].reference
        assert keyless_ref.priority == BATCH
        # A teacher opens the same problem interactively and asks for worked solutions.
        live, to_solve = create_assignment(
            s, teacher, "Live", problems, reference_settings=settings_fn, worked_solutions=True, priority=INTERACTIVE
        )
        assert live.problems[0].reference.id == keyless_ref.id  # cached: one reference per statement
        assert keyless_ref.priority == INTERACTIVE  # someone is waiting for it now
        assert live.problems[1].reference is not None and len(to_solve) == 1  # the keyed one, on request
