"""What a step comes to, besides returning a result.

A step function returns a value (the step is done; the value is its
result, and the last step's is the run's) or one of these, or raises:

    RetryableError(msg, delay=None)  the attempt failed; retried by the
                                     step's policy while attempts remain
    PermanentError(msg)              the run fails now, no more attempts
    any other exception              a failed attempt, like RetryableError
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

When = Union[_dt.datetime, float, int]  # an aware datetime, or seconds from now


def _until(when: When) -> _dt.datetime:
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            raise ValueError("use an aware datetime (with tzinfo), or seconds from now")
        return when
    return _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=float(when))


@dataclass
class Next:
    """Step done: go on to the next step (or finish the run) with `result`."""

    result: Any = None


@dataclass
class Complete:
    """Finish the whole run now with `result`, skipping the steps left."""

    result: Any = None


@dataclass
class Defer:
    """Not ready: run this step again at `until` (uses no attempt)."""

    until: When


@dataclass
class Sleep:
    """Step done; the next step starts at `until` (a durable timer)."""

    until: When
    result: Any = None


@dataclass
class WaitForSignal:
    """Suspend the run until signal `name` arrives; this step then runs
    again and ctx.take_signal(name) returns it. After `timeout` seconds
    without it, the attempt fails."""

    name: str
    timeout: Optional[float] = None


@dataclass
class WaitForRuns:
    """Suspend the run until these runs finish (all, or `any` one); this
    step then runs again and reads them with ctx.get_runs."""

    run_ids: Sequence[str]
    any: bool = False
    timeout: Optional[float] = None


@dataclass
class Release:
    """Give the attempt back untouched (uses no attempt)."""

    reason: str = "released by its worker"


class RetryableError(Exception):
    """The attempt failed but may pass later: retried by the step's policy
    (after `delay` seconds instead of the backoff, if given)."""

    def __init__(self, message: str, delay: Optional[float] = None):
        super().__init__(message)
        self.delay = delay


class PermanentError(Exception):
    """The run cannot succeed: it fails now, without further attempts."""
