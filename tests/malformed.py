"""Malformed-input tables: one `Case` per bad (or extreme but valid) input of a public function.

Each family has a table in `tests/test_malformed_<family>.py` (a module-level `CASES` list) and
runs it with `run_table(CASES)`. The probe (`python tools/probe.py`) runs every table in child
processes and tallies the outcome of each case, so that a crash or a hang is counted rather than
taking the test run down:

- ``clear``   an error case raised one of `CLEAR_ERRORS` whose message names the public function
              (`Case.fn`) and the argument (`Case.arg`);
- ``correct`` a valid (if extreme) input returned a result that passes `Case.check`;
- ``unclear`` any other exception (wrong type, or the message lacks the function or argument);
- ``silent``  no exception where one was due, or a result that fails `Case.check`
              (NaN, inf, a wrong value);
- ``crash`` / ``hang``  only the probe sees these (the child process died or stopped answering).

A case is written as

    Case("gumbel_softmax", "tau 0", lambda: pyalgo.gumbel_softmax(x, tau=0.0),
         fn="pyalgo.gumbel_softmax", arg="tau")                       # must raise, naming both
    Case("gumbel_softmax", "-1e38 logits", lambda: pyalgo.gumbel_softmax(big, hard=True),
         check=lambda y: bool(torch.isfinite(y).all()))               # must succeed and pass check
"""
from __future__ import annotations

import dataclasses
import re
import traceback
from typing import Any, Callable, List, Optional, Sequence, Tuple

import pytest

CLEAR_ERRORS: Tuple[type, ...] = (ValueError, TypeError, RuntimeError, IndexError, OverflowError,
                                  FileNotFoundError, KeyError, NotImplementedError)
OUTCOMES = ("clear", "correct", "unclear", "crash", "hang", "silent")


@dataclasses.dataclass
class Case:
    op: str                                   # the public function (short name, for the tally)
    what: str                                 # the bad input in a few words
    call: Callable[[], Any]
    fn: Optional[str] = None                  # error cases: the name the message must contain
    arg: Optional[str] = None                 # error cases: the argument the message must name
    check: Optional[Callable[[Any], bool]] = None   # valid cases: a property of the result
    errors: Tuple[type, ...] = CLEAR_ERRORS   # error cases: the accepted exception types

    def __post_init__(self):
        if (self.check is None) == (self.fn is None):
            raise ValueError(f"case {self.id}: give fn (+ arg) for an error case or check for a valid one")

    @property
    def id(self) -> str:
        return f"{self.op}: {self.what}"


def classify(case: Case) -> Tuple[str, str]:
    """(outcome, detail) of running `case` in this process (never 'crash' or 'hang')."""
    try:
        result = case.call()
    except Exception as exc:  # noqa: BLE001 - the point is to classify every exception
        msg = f"{type(exc).__name__}: {exc}"
        if case.fn is None:
            return "unclear", "valid input raised " + msg + "\n" + traceback.format_exc(limit=4)
        if not isinstance(exc, case.errors):
            return "unclear", "wrong exception type " + msg
        text = str(exc)
        missing = [name for name in (case.fn, case.arg) if name and not re.search(re.escape(name), text)]
        if missing:
            return "unclear", f"message lacks {missing}: {msg}"
        return "clear", msg
    if case.fn is not None:
        return "silent", f"no error; returned {_short(result)}"
    try:
        ok = bool(case.check(result))
    except Exception as exc:  # noqa: BLE001
        return "silent", f"check raised {type(exc).__name__}: {exc}; result {_short(result)}"
    return ("correct", "") if ok else ("silent", f"check failed on {_short(result)}")


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) < 300 else text[:300] + "..."


def run_table(cases: Sequence[Case]):
    """A pytest test function over `cases`: each must be `clear` (error cases) or `correct`."""

    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate case ids: {dupes}")

    @pytest.mark.malformed
    @pytest.mark.parametrize("case", list(cases), ids=ids)
    def test_case(case: Case):
        outcome, detail = classify(case)
        assert outcome in ("clear", "correct"), f"{case.id}: {outcome}: {detail}"

    return test_case


def tally(outcomes: List[str]) -> dict:
    return {name: outcomes.count(name) for name in OUTCOMES}
