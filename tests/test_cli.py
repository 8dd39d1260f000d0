"""The `stepwise` command line: accounts, offline grading, batch intake, one-off checks."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select

from stepwise.cli import SAMPLE, main
from store.db import db
from store.models import Submission
from support import ROOT


def _env(settings, **extra):
    env = dict(os.environ, STEPWISE_DATABASE_URL=settings.database_url, STEPWISE_REDIS_URL=settings.redis_url,
               STEPWISE_SECRET_KEY=settings.secret_key, STEPWISE_INSTANCE_DIR=settings.instance_dir,
               STEPWISE_MODEL_ENABLED="0")
    env.update(extra)
    return env


def _stepwise(settings, *args):
    return subprocess.run([sys.executable, "-m", "stepwise.cli", *args], cwd=ROOT, env=_env(settings),
                          capture_output=True, text=True, timeout=120)


def test_create_teacher_prints_a_working_token_last(settings, client):
    done = _stepwise(settings, "create-teacher", "--email", "New@School.test", "--password", "pw-12345")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = _stepwise(settings, "create-teacher", "--email", "new@school.test", "--password", "x")
    assert again.returncode == 1 and "exists" in again.stderr


def test_grade_file_prints_a_table(capsys):
    assert main(["grade", str(SAMPLE)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["student", "P1", "P2"]
    ada = next(line for line in out if line.startswith("Ada"))
    assert ada.rstrip().endswith("8/8")
    ben = next(line for line in out if line.startswith("Ben"))
    assert "0/2 incorrect" in ben


def test_grade_csv_file_as_json(tmp_path, capsys):
    path = tmp_path / "answers.csv"
    path.write_text("student,problem,answer,reference\nAda,1,1/2,0.5\nAda,2,3.14,\\pi\nBo,1,,0.5\n")
    assert main(["grade", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["student"] for r in rows] == ["Ada", "Ada", "Bo"]
    assert rows[0]["status"] == "correct" and rows[0]["score"] == 1
    assert rows[1]["status"] != "correct" and rows[1]["score"] < 1  # 3.14 is not pi
    assert rows[2]["status"] in ("invalid", "incorrect") and rows[2]["score"] == 0


def test_grade_refuses_unreadable_files(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    assert main(["grade", str(path)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "missing.csv")]) == 2


def test_check_prints_json(capsys):
    assert main(["check", "2/4", "1/2"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "correct" and body["score"] == 1


def test_batch_stores_then_queues_and_is_idempotent(settings, app, teacher, tmp_path):
    from store.intake import parse_problems
    from web.intake import submit_assignment
    from store.models import Teacher

    with app.app_context():
        owner = db.session.get(Teacher, teacher.id)
        assignment = submit_assignment(owner, "Nightly", parse_problems([{"statement": "1+1", "answer": "2"}]), settings)
        assignment_id = assignment.id
    path = tmp_path / "night.csv"
    path.write_text("student,problem,answer,external_id\nAda,1,2,n-1\nBen,1,3,n-2\n")
    first = _stepwise(settings, "batch", str(assignment_id), str(path))
    assert first.returncode == 0, first.stderr
    assert "queued 2 new submission(s)" in first.stdout
    again = _stepwise(settings, "batch", str(assignment_id), str(path))
    assert "queued 0 new submission(s), 2 already stored" in again.stdout
    with app.app_context():
        rows = db.session.scalars(select(Submission)).all()
        assert sorted((s.student, s.source) for s in rows) == [("Ada", "batch"), ("Ben", "batch")]
    bad = tmp_path / "bad.csv"
    bad.write_text("student,problem,answer\nCy,5,1\n")
    refused = _stepwise(settings, "batch", str(assignment_id), str(bad))
    assert refused.returncode == 2 and "answers[0].problem" in refused.stderr


def test_lms_add_integration_prints_the_secret_once(settings, app, teacher):
    done = _stepwise(settings, "lms", "add-integration", "--teacher", teacher.email, "--name", "Canvas hook",
                     "--allowed-host", "lms.school.example")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("integration id: int_")
    secret = lines[-1]
    listed = _stepwise(settings, "lms", "list")
    assert "Canvas hook" in listed.stdout and "lms.school.example" in listed.stdout
    assert secret not in listed.stdout
    with app.app_context():
        from store.lms.integrations import webhook_secret
        from store.lms.models import Integration

        row = db.session.scalar(select(Integration))
        assert row.secret_encrypted != secret and webhook_secret(row, settings) == secret
    unknown = _stepwise(settings, "lms", "add-integration", "--teacher", "nobody@x.test", "--name", "n")
    assert unknown.returncode == 1
