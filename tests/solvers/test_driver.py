"""The one time-loop driver (solvers._driver): save-time convention, chunking, checkpoints, status."""
import math

import numpy as np
import pytest

from solvers import _driver
from solvers.errors import CheckpointWarning, NonFiniteError, StabilityError


# ---------------------------------------------------------------------------- the conventions
def test_save_times_convention():
    assert _driver.save_times(None, 2.0).tolist() == [0.0, 2.0]
    assert _driver.save_times(4, 2.0).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]        # m intervals, m + 1 times
    assert _driver.save_times(1, 2.0).tolist() == [0.0, 2.0]
    assert _driver.save_times([1.5, 0.5, 0.5], 2.0).tolist() == [0.5, 1.5]          # sorted, unique
    assert _driver.save_times(0.5, 2.0).tolist() == [0.5]                          # one float = one time
    assert _driver.save_times(2.0 * (1 + 1e-13), 2.0).tolist() == [2.0]             # round-off above t is t
    assert _driver.save_times(None, 0.0).tolist() == [0.0]
    assert _driver.save_times(3, 0.0).tolist() == [0.0]


@pytest.mark.parametrize("bad, exc, match", [
    (0, ValueError, r"`save_at` as an int must be >= 1"), (-2, ValueError, "got -2"),
    (True, TypeError, "`save_at`"), ([0.5, 3.0], ValueError, r"in \[0, t\] = \[0, 2\]"),
    ([np.nan], ValueError, "finite"), ([], ValueError, "`save_at`"), ("abc", TypeError, "`save_at`"),
    ([1 + 1j], TypeError, "real"),
])
def test_save_times_errors_name_the_argument(bad, exc, match):
    with pytest.raises(exc, match=match):
        _driver.save_times(bad, 2.0)


def test_check_outcome_and_clock():
    _driver.check_outcome("success", "fine", True)
    _driver.check_outcome("nonfinite", "bad", False)            # returned, not raised
    with pytest.raises(NonFiniteError, match="bad"):
        _driver.check_outcome("nonfinite", "bad", True)
    for st in ("step_too_small", "unstable"):
        with pytest.raises(StabilityError):
            _driver.check_outcome(st, "x", True)
    assert set(_driver.EXCEPTIONS) < set(_driver.STATUSES) and _driver.STATUSES[0] == "success"
    c = _driver.Clock()
    c.compiled(0.25)
    assert c.compile_time == 0.25 and c.wall_time < 0.0          # compile time is not wall time


# ---------------------------------------------------------------------------- a toy stepper
class Decay:
    """du/dt = -k u by forward Euler, dt <= h, the last step shortened to land on the target.

    ``calls`` records the ``max_steps`` of each advance call; ``blow_at`` makes step n non-finite.
    """

    def __init__(self, h=0.01, k=1.0, blow_at=None):
        self.u = np.array([1.0, 2.0])
        self.t, self.n_steps, self.h, self.k = 0.0, 0, h, k
        self.calls, self.blow_at = [], blow_at

    def warmup(self):
        return 0.0

    def state(self):
        return self.u.copy()

    def advance(self, t_target, max_steps, t_stop=math.inf):
        self.calls.append(max_steps)
        for _ in range(max_steps):
            if self.t >= t_target or self.t >= t_stop:
                break
            dt = min(self.h, t_target - self.t)
            self.u = self.u * (1.0 - self.k * dt)
            self.n_steps += 1
            self.t = t_target if dt == t_target - self.t else self.t + dt
            if self.blow_at is not None and self.n_steps >= self.blow_at:
                self.u = self.u * np.nan
                return "nonfinite"
        return "success"

    def checkpoint_state(self):
        return {}, {"u": self.u}

    def restore(self, scalars, arrays):
        self.t, self.n_steps, self.u = float(scalars["t_now"]), int(scalars["step"]), arrays["u"].copy()


def test_march_saves_at_the_convention_times_in_one_call_per_interval():
    st = Decay()
    out = _driver.March(1.0, _driver.save_times(4, 1.0)).run(st)
    assert out.status == "success" and out.ts == [0.0, 0.25, 0.5, 0.75, 1.0] and st.t == 1.0
    assert len(out.states) == 5 and np.array_equal(out.states[-1], st.u)
    assert st.calls == [_driver.UNBOUNDED] * 4       # no progress bar, no checkpoint: one call per interval
    assert out.n_steps == st.n_steps == 100


def test_progress_and_step_checkpoints_chunk_the_calls_but_not_the_numbers(tmp_path, capsys):
    pytest.importorskip("tqdm")
    ref = Decay()
    _driver.March(1.0, _driver.save_times(2, 1.0)).run(ref)
    st = Decay()
    out = _driver.March(1.0, _driver.save_times(2, 1.0), progress=True, desc="toy",
                        checkpoint=tmp_path / "c.h5", checkpoint_every=7).run(st)
    assert np.array_equal(st.u, ref.u) and out.status == "success"
    assert st.calls[0] == 1 and max(st.calls) <= 7     # first call measures one step; every 7 steps a checkpoint
    assert "toy" in capsys.readouterr().err


def test_checkpoint_every_seconds_derives_steps_from_the_measured_step_time(tmp_path):
    st = Decay(h=1e-4)
    _driver.March(1.0, _driver.save_times(None, 1.0), checkpoint=tmp_path / "c.h5", checkpoint_every=1e-3).run(st)
    assert st.calls[0] == 1 and len(st.calls) > 3
    assert max(st.calls[1:]) <= 4 * max(st.calls[:-1])                  # growth bounded per call


def test_stop_resume_is_bit_identical_and_other_settings_are_refused(tmp_path):
    ref = Decay()
    ts = _driver.save_times(5, 1.0)
    full = _driver.March(1.0, ts).run(ref)
    path = tmp_path / "run.h5"
    st = Decay()
    out = _driver.March(1.0, ts, checkpoint=path, checkpoint_every=1000, config={"k": 1.0}, max_steps=37).run(st)
    assert out.status == "stopped" and st.n_steps == 37 and len(out.ts) == 2
    st2 = Decay()
    out2 = _driver.March(1.0, ts, checkpoint=path, config={"k": 1.0}).run(st2, resume=path)
    assert out2.status == "success" and out2.ts == full.ts and st2.n_steps == ref.n_steps
    assert np.array_equal(np.stack(out2.states), np.stack(full.states))
    with pytest.raises(ValueError, match="different problem or settings.*k"):
        _driver.March(1.0, ts, config={"k": 2.0}).run(Decay(), resume=path)


def test_stop_at_stops_after_the_step_that_reaches_it():
    st = Decay(h=0.03)
    out = _driver.March(1.0, _driver.save_times(None, 1.0), stop_at=0.1).run(st)
    assert out.status == "stopped" and 0.1 <= st.t < 0.13 and st.n_steps == 4


def test_failure_stops_the_march_and_keeps_what_was_saved():
    st = Decay(blow_at=60)
    out = _driver.March(1.0, _driver.save_times(4, 1.0)).run(st)
    assert out.status == "nonfinite" and out.ts == [0.0, 0.25, 0.5] and st.n_steps == 60


def test_a_failed_checkpoint_write_warns_and_the_run_goes_on(tmp_path, monkeypatch):
    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_driver, "write_checkpoint", full_disk)
    st = Decay()
    with pytest.warns(CheckpointWarning, match="No space left.*continues"):
        out = _driver.March(1.0, _driver.save_times(None, 1.0), checkpoint=tmp_path / "c.h5",
                            checkpoint_every=10).run(st)
    assert out.status == "success" and st.t == 1.0 and len(out.checkpoint_failures) == 10


def test_an_unwritable_checkpoint_path_fails_before_the_first_step(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="`checkpoint`"):
        _driver.March(1.0, _driver.save_times(None, 1.0), checkpoint=blocker / "sub" / "c.h5")


def test_a_stepper_that_makes_no_progress_is_an_error_not_a_hang():
    class Stuck(Decay):
        def advance(self, t_target, max_steps, t_stop=math.inf):
            return "success"

    with pytest.raises(RuntimeError, match="took no step"):
        _driver.March(1.0, _driver.save_times(None, 1.0)).run(Stuck())
