"""Time limits that work in the main thread, in other threads and in daemonic processes.

* Main thread of the main interpreter, with no interval timer already running:
  ``signal.setitimer(ITIMER_REAL)`` and a SIGALRM handler that raises :class:`GraderTimeout`.
* Anywhere else (web-server threads, a Celery prefork child whose main thread already uses
  SIGALRM, ...): one shared watchdog thread injects :class:`GraderTimeout` into the checking
  thread with ``PyThreadState_SetAsyncExc``.  No child processes are needed, so daemonic
  processes (which may not start multiprocessing children) are fine.

Both ways deliver the exception between Python bytecodes; the builders in
:mod:`grader.build` refuse the few operations that could spend a long time inside one C call
(huge integer powers, huge factorials), so the limit is honoured in practice.

:class:`GraderTimeout` derives from ``BaseException`` so ``except Exception`` blocks inside
sympy or mpmath cannot swallow it.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import signal
import threading
import time
from contextlib import contextmanager

__all__ = [
    "GraderTimeout",
    "time_limit",
    "deadline_left",
    "bounded",
    "cut_short",
    "track_cuts",
    "SMALL_WORK",
    "is_check_error",
]


class GraderTimeout(BaseException):
    """Raised inside a check that ran past its time limit."""


_local = threading.local()


def deadline_left() -> float:
    """Seconds left before the innermost active limit in this thread (inf if none)."""
    d = getattr(_local, "deadline", None)
    return float("inf") if d is None else d - time.monotonic()


# ------------------------------------------------------------------ watchdog (any thread)


class _Watchdog:
    """One daemon thread per process that fires armed deadlines."""

    def __init__(self):
        self._start_lock = threading.Lock()
        self._ids = itertools.count()
        self._reset()

    def _reset(self):
        self._cv = threading.Condition()
        self._heap: list = []
        self._thread = None
        self._pid = os.getpid()
        self._start_lock = threading.Lock()

    def _ensure(self):
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid != os.getpid():
                self._reset()
            if self._thread is None:
                t = threading.Thread(target=self._run, args=(self._cv, self._heap), name="grader-watchdog", daemon=True)
                t.start()
                self._thread = t

    def arm(self, when: float, tid: int):
        entry = {"tid": tid, "done": False, "fired": False, "firing": False, "id": next(self._ids)}
        self._ensure()
        with self._cv:
            heapq.heappush(self._heap, (when, entry["id"], entry))
            self._cv.notify()
        return entry

    def disarm(self, entry) -> bool:
        """Returns True if the watchdog fired for this entry.

        Lock-free on purpose: an exception delivered while the checking thread held a lock
        would leave that lock held for ever.  Under the GIL these dict operations are atomic.
        """
        entry["done"] = True
        while entry["firing"]:
            time.sleep(0)
        return entry["fired"]

    @staticmethod
    def _run(cv, heap):
        while True:
            with cv:
                while True:
                    while heap and heap[0][2]["done"]:
                        heapq.heappop(heap)
                    if not heap:
                        cv.wait()
                        continue
                    delay = heap[0][0] - time.monotonic()
                    if delay <= 0:
                        break
                    cv.wait(delay)
                _, _, entry = heapq.heappop(heap)
                entry["firing"] = True
                if not entry["done"]:
                    entry["fired"] = True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(entry["tid"]), ctypes.py_object(GraderTimeout)
                    )
                entry["firing"] = False


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog._reset)


def _clear_async(tid: int):
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)


@contextmanager
def _thread_limit(seconds: float):
    tid = threading.get_ident()
    entry = _watchdog.arm(time.monotonic() + seconds, tid)
    try:
        yield
    finally:
        if _watchdog.disarm(entry):
            # It fired: the exception may still be pending; make sure it cannot escape later.
            _clear_async(tid)


# ------------------------------------------------------------------ signal (main thread)


def _alarm_handler(signum, frame):
    raise GraderTimeout()


def _can_use_signal() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    if not hasattr(signal, "setitimer"):
        return False
    try:
        if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
            return False
        h = signal.getsignal(signal.SIGALRM)
    except (ValueError, OSError):
        return False
    return h in (signal.SIG_DFL, signal.SIG_IGN, None, _alarm_handler)


@contextmanager
def time_limit(seconds: float | None, force_thread: bool = False):
    """Raise :class:`GraderTimeout` inside the block once ``seconds`` have passed.

    Nested limits: the inner one only ever shortens the outer one.
    """
    if seconds is None or seconds <= 0 or seconds == float("inf"):
        yield
        return
    now = time.monotonic()
    outer = getattr(_local, "deadline", None)
    if outer is not None:
        # already inside a limit: keep the earlier deadline, do not stack timers
        if now + seconds >= outer:
            yield
            return
    _local.deadline = now + seconds if outer is None else min(outer, now + seconds)
    try:
        use_signal = outer is None and not force_thread and _can_use_signal()
        if use_signal:
            try:
                old = signal.signal(signal.SIGALRM, _alarm_handler)
            except (ValueError, OSError):  # e.g. a sub-interpreter: no signals there
                use_signal = False
        if use_signal:
            try:
                signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
                yield
            finally:
                try:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                finally:  # even if the alarm fires right here, restore the old handler
                    signal.signal(signal.SIGALRM, old)
        else:
            with _thread_limit(seconds):
                yield
    finally:
        _local.deadline = outer


def time_limit_mode() -> str:
    """Which mechanism :func:`time_limit` would use in the calling thread."""
    return "signal" if _can_use_signal() else "watchdog"


# Exceptions a check may meet on odd input: builtin math/parse errors and anything raised by
# sympy, mpmath or the grader itself.  Everything else (Celery's SoftTimeLimitExceeded, a
# KeyboardInterrupt, a caller's own stop signal) is not ours to swallow.
_EXPECTED_BUILTINS = (
    ValueError,
    TypeError,
    ArithmeticError,
    AttributeError,
    LookupError,
    NotImplementedError,
    RecursionError,
    MemoryError,
    AssertionError,
)
_EXPECTED_MODULES = ("sympy.", "mpmath.", "grader.")


def is_check_error(exc: BaseException) -> bool:
    """True for an exception that means "this input could not be checked", never for one
    that is used to stop work."""
    if not isinstance(exc, Exception):
        return False
    cls = type(exc)
    if cls.__module__ in ("builtins", "fractions", "decimal", "re"):
        return isinstance(exc, _EXPECTED_BUILTINS)
    return cls.__module__.startswith(_EXPECTED_MODULES)


# Below this size (sympy operation count) an open-ended call is given the whole remaining
# time of the check rather than an inner budget: a small input must get the same verdict on a
# busy machine as on an idle one.  Only genuinely large inputs fall back to "could not check".
SMALL_WORK = 80


@contextmanager
def track_cuts():
    """Count the inner budgets that ran out inside the block (see :func:`cut_short`)."""
    outer = getattr(_local, "cuts", None)
    _local.cuts = 0
    try:
        yield
    finally:
        n = _local.cuts
        _local.cuts = outer if outer is None else outer + n


def cut_short() -> bool:
    """True if an inner budget ran out in the innermost :func:`track_cuts` block so far:
    the verdict depends on the machine's speed and must not be cached."""
    return bool(getattr(_local, "cuts", 0))


def bounded(fn, seconds: float, default=None, size: int | None = None):
    """Run fn() for at most ``seconds`` (and never past the enclosing limit).

    Returns ``default`` if this inner budget runs out; re-raises if the enclosing limit did.
    Used around open-ended sympy calls (solveset, simplify) on large inputs so one slow step
    does not use up the whole time limit of a check.  With ``size`` at most
    :data:`SMALL_WORK` there is no inner budget: only the check's own limit applies.
    """
    if size is not None and size <= SMALL_WORK:
        return fn()
    try:
        with time_limit(seconds):
            return fn()
    except GraderTimeout:
        if deadline_left() <= 0.005:
            raise
        if getattr(_local, "cuts", None) is not None:
            _local.cuts += 1
        return default
