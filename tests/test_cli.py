"""The `stepwise` command line: accounts, offline grading, batch intake, one-off checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from support import ROOT

from stepwise.cli import SAMPLE, main
from store.db import db
from store.models import Submission


def _env(settings, **extra):
    env = dict(
        os.environ,
        STEPWISE_DATABASE_URL=settings.database_url,
        STEPWISE_REDIS_URL=settings.redis_url,
        STEPWISE_SECRET_KEY=settings.secret_key,
        STEPWISE_INSTANCE_DIR=settings.instance_dir,
        STEPWISE_MODEL_ENABLED="0",
    )
    env.update(extra)
    return env


def _stepwise(settings, *args):
    return subprocess.run(
        [sys.executable, "-m", "stepwise.cli", *args],
        cwd=ROOT,
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_teacher_prints_a_working_token_last(settings, client):
    done = _stepwise(settings, "create-teacher", "--password", "pw-12345-long", "--email", "New@School.test")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = _stepwise(settings, "create-teacher", "--email", "new@school.test", "--password", "another-long-one")
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
    from store.models import Teacher
    from web.intake import submit_assignment

    with app.app_context():
        owner = db.session.get(Teacher, teacher.id)
        problems = parse_problems([{"statement": "1+1", "answer": "2"}])
        assignment = submit_assignment(owner, "Nightly", problems, settings)
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
    done = _stepwise(
        settings,
        "lms",
        "add-integration",
        "--teacher",
        teacher.email,
        "--name",
        "Canvas hook",
        "--allowed-host",
        "lms.school.example",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("integration id: int_")
    secret = lines[-1]
    listed = _stepwise(settings, "lms", "list")
    assert "Canvas hook" in listed.stdout and "lms.school.example" in listed.stdout
    assert secret not in listed.stdout
    with app.app_context():
        from lms.integrations import webhook_secret
        from store.lms.models import Integration

        row = db.session.scalar(select(Integration))
        assert row.secret_encrypted != secret and webhook_secret(row, settings) == secret
    unknown = _stepwise(settings, "lms", "add-integration", "--teacher", "nobody@x.test", "--name", "n")
    assert unknown.returncode == 1


# Files `stepwise grade` must refuse with a one-line error, never a traceback: (content, named in the error)
BAD_GRADE_FILES = [
    ('{"problems": [{"answer": "1", "points": "many"}], "submissions": []}', "problems[0].points"),
    ('{"problems": [{"answer": "1", "policy": {"fuzzy": true}}], "submissions": []}', "problems[0].policy.fuzzy"),
    ('{"problems": [{"answer": "1", "policy": {"mode": "close"}}], "submissions": []}', "problems[0].policy.mode"),
    ('{"submissions": ["Ada said 2"]}', "submissions[0]"),
    ('{"submissions": [{"student": "Ada", "answers": "2"}]}', "submissions[0].answers"),
    ('{"submissions": [{"student": "Ada", "answers": [{"problem": "one"}]}]}', "submissions[0].answers[0].problem"),
    ('{"submissions": 5}', "file"),
    ("{not json", "file"),
]


@pytest.mark.parametrize("content,named", BAD_GRADE_FILES)
def test_grade_refuses_malformed_files_without_a_traceback(tmp_path, content, named):
    path = tmp_path / "bad.json"
    path.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "stepwise.cli", "grade", str(path)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and named in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_batch_on_a_missing_file_is_an_error_not_a_traceback(settings, tmp_path):
    done = _stepwise(settings, "batch", "1", str(tmp_path / "missing.csv"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot read" in done.stderr


def test_commands_on_a_database_without_tables_say_what_to_do(tmp_path):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        STEPWISE_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite'}",
        STEPWISE_INSTANCE_DIR=str(tmp_path / "instance"),
        STEPWISE_SECRET_KEY="k",
    )
    env.pop("STEPWISE_REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "stepwise.cli", "create-teacher", "--email", "a@b.test", "--password", "long-enough-pw"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "stepwise db upgrade" in done.stderr


@pytest.mark.parametrize(
    "password,problem",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("short1", "at least 10"),
        ("aaaaaaaaaaaa", "guess"),
        ("1234567890", "guess"),
    ],
)
def test_create_teacher_refuses_weak_passwords(settings, password, problem):
    done = _stepwise(settings, "create-teacher", "--email", "weak@school.test", "--password", password)
    assert done.returncode == 1 and problem in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--policy", "{}", "2/4", "1/2"],  # a leading option (used to be refused)
        ["check", "2/4", "--policy", "{}", "1/2"],
        ["grade", "--json", str(SAMPLE)],
    ],
)
def test_options_go_in_any_order(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize(
    "argv",
    [
        ["-h"],
        ["check", "-h"],
        ["grade", "-h"],
        ["batch", "--help"],
        ["eval-model", "-h"],
        ["lms", "-h"],
        ["lms", "add-integration", "-h"],
        ["tokens", "revoke", "-h"],
        ["create-teacher", "-h"],
        ["requeue", "-h"],
    ],
)
def test_every_command_has_help(argv, capsys):
    assert main(argv) == 0
    assert "usage" in capsys.readouterr().out.lower()


def test_tokens_list_revoke_and_reissue_from_the_cli(settings, client, teacher, auth):
    listed = _stepwise(settings, "tokens", "list", "--email", teacher.email)
    assert listed.returncode == 0, listed.stderr
    token_id = listed.stdout.split()[0]
    again = _stepwise(settings, "tokens", "reissue", token_id, "--email", teacher.email)
    assert again.returncode == 0, again.stderr
    new = again.stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/assignments", headers=auth).status_code == 401  # the old one is revoked
    headers = {"Authorization": f"Bearer {new}"}
    assert client.get("/api/v1/assignments", headers=headers).status_code == 200
    new_id = _stepwise(settings, "tokens", "list", "--email", teacher.email).stdout.strip().splitlines()[-1].split()[0]
    assert _stepwise(settings, "tokens", "revoke", "--email", teacher.email, new_id).returncode == 0
    assert client.get("/api/v1/assignments", headers=headers).status_code == 401
    assert _stepwise(settings, "tokens", "revoke", "--email", "nobody@x.test", new_id).returncode == 1
