"""Public API additions: Policy.from_dict/to_dict and PolicyError, Status, read_key,
suggest_policy, warm_up, check_steps(given=, timeout=), exceptions used to stop work."""

import json
import time

import pytest

import grader
from grader import (
    KeyReading,
    Policy,
    PolicyError,
    Status,
    StepStatus,
    check_answer,
    check_steps,
    read_key,
    suggest_policy,
    warm_up,
)

# Policies that are refused, with the field named in the error.
BAD_POLICIES = [
    ({"mode": "fuzzy"}, "mode"),
    ({"require": ["pretty"]}, "require"),
    ({"require": 5}, "require"),
    ({"rel_tol": -1}, "rel_tol"),
    ({"abs_tol": "x"}, "abs_tol"),
    ({"rel_tol": float("nan")}, "rel_tol"),
    ({"sigfigs": 0}, "sigfigs"),
    ({"sigfigs": 16}, "sigfigs"),
    ({"sigfigs": 2.5}, "sigfigs"),
    ({"sigfigs": True}, "sigfigs"),
    ({"dp": -1}, "dp"),
    ({"dp": 16}, "dp"),
    ({"dp": "2"}, "dp"),
    ({"units": "sometimes"}, "units"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 601}, "timeout"),
    ({"max_length": 0}, "max_length"),
    ({"colour": 1}, "colour"),
    ({"ordered": "yes"}, "ordered"),
    ({"step_credit": None}, "step_credit"),
]


@pytest.mark.parametrize("mapping,field", BAD_POLICIES, ids=[f for _, f in BAD_POLICIES])
def test_policy_from_dict_names_the_bad_field(mapping, field):
    with pytest.raises(PolicyError) as e:
        Policy.from_dict(mapping)
    assert e.value.field == field
    assert e.value.message
    assert isinstance(e.value, ValueError)


GOOD_POLICIES = [
    {},
    {"sigfigs": 3},
    {"sigfigs": 15},
    {"dp": 0},
    {"dp": 2},
    {"units": "optional"},
    {"units": "ignore"},
    {"step_credit": True},
    {"require": ["factored", "simplified"]},
    {"mode": "numeric", "rel_tol": 0.01},
    {"timeout": 5},
    {"ordered": True, "partial_credit": False},
]


@pytest.mark.parametrize("mapping", GOOD_POLICIES, ids=[json.dumps(m) for m in GOOD_POLICIES])
def test_policy_round_trips(mapping):
    p = Policy.from_dict(mapping)
    d = p.to_dict()
    json.dumps(d)
    assert Policy.from_dict(d) == p
    for k, v in mapping.items():
        assert d[k] == (sorted(v) if k == "require" else v)


def test_policy_defaults_and_coerce():
    p = Policy.from_dict({})
    assert (p.units, p.dp, p.step_credit) == ("required", None, False)
    assert Policy.coerce('{"dp": 1}').dp == 1
    assert Policy.from_dict(None) == Policy()
    with pytest.raises(PolicyError):
        Policy.coerce("{not json")
    with pytest.raises(PolicyError):
        Policy.from_dict([1, 2])  # type: ignore[arg-type]


def test_status_is_a_str_enum():
    r = check_answer("2/4", "1/2")
    assert r.status == "correct" and r.status is Status.correct
    assert json.loads(r.to_json())["status"] == "correct"
    assert type(r.to_dict()["status"]) is str
    assert {s.value for s in Status} == {"correct", "partial", "incorrect", "invalid", "timeout"}
    s = check_steps(["2x = 4", "x = 2"])
    assert s.steps[1].status == "correct" and s.steps[0].status is StepStatus.start
    assert type(s.to_dict()["steps"][0]["status"]) is str


# (key, readable?, words in the interpretation)
KEYS = [
    ("x = 3", True, "x = 3"),
    ("3, -2", True, "3, -2"),
    ("\\frac{1}{2}", True, "\\frac{1}{2}"),
    ("[1, 3)", True, "\\left[1, 3\\right)"),
    ("x = = 3", False, ""),
    ("", False, ""),
    ("   ", False, ""),
    ("(1 + 2", False, ""),
    ("\\foo{1}", False, ""),
    ("1/0", False, ""),
    ("x > 2", True, "x > 2"),
    ("\\boxed{5", False, ""),
    ("east", True, "\\text{east}"),
    ("\\text{Evelyn}", True, "\\text{Evelyn}"),
    ("(B)", True, "\\text{(B)}"),
    ("52_8", True, "52_{8}"),
    ("7:32", True, "7:32"),
    ("2.5 m", True, "2.5\\,\\mathrm{m}"),
    ("50.3 cm^2", True, "\\mathrm{cm^{2}}"),
    ("90^\\circ", True, "90^{\\circ}"),
    ("ab", True, "a b"),
]


@pytest.mark.parametrize("key,ok,words", KEYS, ids=[k for k, _, _ in KEYS])
def test_read_key(key, ok, words):
    r = read_key(key)
    assert isinstance(r, KeyReading)
    assert r.ok is ok
    if ok:
        assert words in r.interpreted
    else:
        assert r.message and "key" in r.message and "your answer" not in r.message.lower()


def test_read_key_non_string_and_too_long():
    assert not read_key(None).ok  # type: ignore[arg-type]
    assert not read_key("1" * 20, {"max_length": 10}).ok


# (statement, policy, expected words or None)
SUGGESTIONS = [
    ("Factor completely: x^2 + 5x + 6", None, "`factored`"),
    ("Factorise x^2 - 9.", None, "`factored`"),
    ("Factor x^2 - 9.", None, "`factored`"),
    ("Factor completely: x^2 + 5x + 6", {"require": ["factored"]}, None),
    ("Simplify 6/8.", None, "`simplified`"),
    ("Write 6/8 in lowest terms.", None, "`simplified`"),
    ("Expand (x+1)(x+2).", None, "`expanded`"),
    ("Multiply out 3(x - 2).", None, "`expanded`"),
    ("Give the exact value of sin 60.", None, "`exact`"),
    ("Find the area. Round to 1 decimal place.", None, "`dp` to 1"),
    ("Give your answer to two decimal places.", None, "`dp` to 2"),
    ("Give your answer to 2 d.p.", None, "`dp` to 2"),
    ("Round to the nearest tenth.", None, "`dp` to 1"),
    ("Give your answer to 3 significant figures.", None, "`sigfigs` to 3"),
    ("Give your answer to 3 s.f.", None, "`sigfigs` to 3"),
    ("Give your answer to 3 s.f.", {"sigfigs": 3}, None),
    ("Round to 1 decimal place.", {"dp": 1}, None),
    ("What is the greatest common factor of 12 and 18?", None, None),
    ("Solve 2x + 3 = 7.", None, None),
    ("", None, None),
]


@pytest.mark.parametrize("statement,policy,words", SUGGESTIONS, ids=[s[:30] for s, _, _ in SUGGESTIONS])
def test_suggest_policy(statement, policy, words):
    tip = suggest_policy(statement, policy)
    if words is None:
        assert tip is None
    else:
        assert tip and words in tip


def test_warm_up_keeps_no_verdicts():
    took = warm_up()
    assert took >= 0
    assert grader.cache_info()["size"] == 0


# ------------------------------------------------------------------ exceptions that stop work


class StopWork(Exception):
    """Like Celery's SoftTimeLimitExceeded: an Exception subclass from outside the grader."""


def test_check_answer_does_not_swallow_a_stop(monkeypatch):
    import grader.core

    def boom(*a, **k):
        raise StopWork()

    monkeypatch.setattr(grader.core, "compare", boom)
    grader.clear_cache()
    with pytest.raises(StopWork):
        check_answer("x + 1", "1 + x")


def test_check_steps_does_not_swallow_a_stop(monkeypatch):
    import grader.steps

    def boom(*a, **k):
        raise StopWork()

    monkeypatch.setattr(grader.steps, "_judge", boom)
    with pytest.raises(StopWork):
        check_steps(["2x = 4", "x = 2"])


def test_read_key_does_not_swallow_a_stop(monkeypatch):
    import grader.keys

    def boom(*a, **k):
        raise StopWork()

    monkeypatch.setattr(grader.keys, "read_answer", boom)
    with pytest.raises(StopWork):
        read_key("1")


def test_stop_delivered_by_a_signal_mid_check_propagates():
    """The way Celery delivers its soft limit: a signal handler raises in the main thread."""
    import signal
    import threading

    def handler(signum, frame):
        raise StopWork()

    old = signal.signal(signal.SIGUSR1, handler)
    heavy = "*".join(["3^{%d}" % (15000 + 7 * i) for i in range(400)])
    timer = threading.Timer(0.05, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1))
    try:
        grader.clear_cache()
        timer.start()
        with pytest.raises(StopWork):
            for k in range(200):
                check_answer(heavy + "*%d" % k, "1", {"timeout": 30})
                check_steps([heavy + "*%d" % k, "1"], {"timeout": 30})
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, old)


def test_grader_errors_are_still_contained(monkeypatch):
    import grader.core

    def boom(*a, **k):
        raise ZeroDivisionError()

    monkeypatch.setattr(grader.core, "compare", boom)
    grader.clear_cache()
    r = check_answer("x + 2", "2 + x")
    assert r.status == "invalid" and r.details["error_type"] == "ZeroDivisionError"
    grader.clear_cache()


# ------------------------------------------------------------------ check_steps(given=, timeout=)


def test_steps_total_budget_is_shared():
    lines = ["*".join(["3^{%d}" % (15000 + 11 * i + j * 3) for i in range(300)]) for j in range(8)]
    t = time.perf_counter()
    r = check_steps(lines, {"timeout": 5}, timeout=0.3)
    assert time.perf_counter() - t < 0.3 + 1.5
    assert any(s.status == "timeout" for s in r.steps)
    assert len(r.steps) == len(lines)


def test_steps_budget_is_not_spent_on_quick_work():
    r = check_steps(["2x + 1 = 7", "2x = 6", "x = 3"], timeout=10)
    assert r.ok and [s.status for s in r.steps] == ["start", "correct", "correct"]


def test_steps_given_must_be_values():
    for bad in ({"r": "x + 1"}, {"1r": 4}, {"r": [1]}, {"r": True}, {"r": "= ="}):
        with pytest.raises(ValueError):
            check_steps(["A = pi r^2"], given=bad)
    with pytest.raises(TypeError):
        check_steps(["A = 1"], given=[("r", 4)])  # type: ignore[arg-type]
