"""Uploads that never duplicate, and deletes that say what happens to an LMS gradebook.

A re-uploaded student (same external id, else same name in the same assignment) has their
answers replaced in their latest submission, or is skipped: the caller chooses. Answers that did
not change are not graded again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import jobs
from store.intake import AnswerIn, create_submission
from store.models import Answer, Assignment, Source, Submission, SubmissionStatus

log = logging.getLogger("stepwise.uploads")

MODES = ("replace", "skip")
LMS_NOTE = (
    "Grades already sent to the LMS gradebook stay there: Stepwise does not remove them. "
    "Delete or change them in the LMS if needed; Stepwise will not post these again."
)


@dataclass
class UploadReport:
    created: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    @property
    def to_grade(self) -> list[int]:
        """Submission ids to enqueue for grading (after the commit)."""
        return self.created + self.replaced

    def to_dict(self) -> dict:
        return {k: len(getattr(self, k)) for k in ("created", "replaced", "unchanged", "skipped")} | {
            "submissions": sorted(self.created + self.replaced + self.unchanged + self.skipped)
        }


def _same_student(name: str) -> str:
    return " ".join(name.split()).casefold()


def existing_submission(
    session: Session, assignment: Assignment, student: str, source: Source, external_id: str | None
) -> Submission | None:
    """The stored submission this upload row is a re-upload of, if any (the latest one)."""
    if external_id:
        found = session.scalar(
            select(Submission).where(
                Submission.assignment_id == assignment.id,
                Submission.source == source.value,
                Submission.external_id == external_id,
            )
        )
        if found is not None:
            return found
    candidates = session.scalars(
        select(Submission)
        .where(Submission.assignment_id == assignment.id, func.lower(Submission.student) == student.strip().lower())
        .order_by(Submission.id.desc())
    ).all()
    key = _same_student(student)
    return next((s for s in candidates if _same_student(s.student) == key), None)


def duplicates(
    session: Session, assignment: Assignment, rows: list[tuple[str, str | None]], source: Source = Source.dashboard
) -> dict[str, int]:
    """For a preview: student name -> stored submission id, for every row already stored."""
    out = {}
    for student, external_id in rows:
        found = existing_submission(session, assignment, student, source, external_id)
        if found is not None:
            out[student] = found.id
    return out


def store_upload(
    session: Session,
    assignment: Assignment,
    rows: list[tuple[str, str | None, list[AnswerIn]]],
    source: Source,
    *,
    mode: str = "replace",
) -> UploadReport:
    """Store parsed rows (student, external id, answers); committed. Enqueue `report.to_grade` after."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    report = UploadReport()
    for student, external_id, answers in rows:
        found = existing_submission(session, assignment, student, source, external_id)
        if found is None:
            submission, created = create_submission(
                session, assignment, student=student, answers=answers, source=source, external_id=external_id
            )
            (report.created if created else report.unchanged).append(submission.id)
        elif mode == "skip":
            report.skipped.append(found.id)
        elif _same_answers(found, answers):
            report.unchanged.append(found.id)
        else:
            replace_answers(session, found, assignment, answers)
            report.replaced.append(found.id)
    session.commit()
    log.info(
        "upload.stored assignment=%s created=%d replaced=%d unchanged=%d skipped=%d",
        assignment.id,
        len(report.created),
        len(report.replaced),
        len(report.unchanged),
        len(report.skipped),
    )
    return report


def _same_answers(submission: Submission, answers: list[AnswerIn]) -> bool:
    stored = {(a.position, a.text, tuple(a.work or [])) for a in submission.answers}
    return stored == {(a.problem, a.answer, tuple(a.work)) for a in answers}


def replace_answers(session: Session, submission: Submission, assignment: Assignment, answers: list[AnswerIn]) -> None:
    """Swap a submission's answers for new ones and queue it for grading (not committed)."""
    problems = {p.position: p for p in assignment.problems}
    for old in list(submission.answers):
        submission.answers.remove(old)
    session.flush()
    for a in answers:
        submission.answers.append(
            Answer(problem_id=problems[a.problem].id, position=a.problem, text=a.answer, work=list(a.work))
        )
    submission.status = SubmissionStatus.queued.value
    submission.score = None
    submission.graded_at = None
    submission.max_score = assignment.max_score
    jobs.open_job(session, jobs.GRADE, submission.id)


# --- deleting -------------------------------------------------------------------------------


def _lms_summary(submissions: list[Submission]) -> dict:
    linked = [s for s in submissions if s.source == Source.lms.value or s.integration_id or s.callback_url]
    return {"linked": len(linked), "message": LMS_NOTE if linked else None}


def delete_submissions(session: Session, submissions: list[Submission]) -> dict:
    """Delete submissions with their answers and grades; returns what was deleted and the LMS note."""
    report = {
        "submissions": len(submissions),
        "answers": sum(len(s.answers) for s in submissions),
        "lms": _lms_summary(submissions),
    }
    for s in submissions:
        session.delete(s)
    session.commit()
    return report


def delete_student(session: Session, assignment: Assignment, student: str) -> dict:
    """Delete every submission of one student in an assignment."""
    key = _same_student(student)
    rows = [s for s in assignment.submissions if _same_student(s.student) == key]
    return delete_submissions(session, rows)


def delete_assignment(session: Session, assignment: Assignment) -> dict:
    """Delete an assignment with its problems, submissions, answers, grades and groups."""
    subs = list(assignment.submissions)
    report = {
        "assignment": assignment.id,
        "problems": len(assignment.problems),
        "submissions": len(subs),
        "answers": sum(len(s.answers) for s in subs),
        "lms": _lms_summary(subs),
    }
    links = _lti_links(session, assignment.id)
    report["lms"]["lti_links"] = links
    if links:
        report["lms"]["message"] = (report["lms"]["message"] or "") + (
            f" {links} LMS assignment link(s) point here: launching them will say the assignment is gone."
        )
    session.delete(assignment)
    session.commit()
    return report


def _lti_links(session: Session, assignment_id: int) -> int:
    """LTI resource links (LMS assignments pointing here); deleting the assignment unlinks them."""
    from store.lms.models import LtiResourceLink

    return (
        session.scalar(
            select(func.count()).select_from(LtiResourceLink).where(LtiResourceLink.assignment_id == assignment_id)
        )
        or 0
    )
