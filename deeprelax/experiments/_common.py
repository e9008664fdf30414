"""Shared pieces of the experiments: the problems, a momentum-SGD baseline loop, the dynamics adapters,
statistics over seeds and the markdown/HDF5 output.

The baseline loop (:func:`sgd_momentum`) exists because :func:`deeprelax.dynamics.sgd` has no momentum
(the authors' baselines use Nesterov 0.9); every other optimiser comes from :mod:`deeprelax.dynamics`
through :func:`run_dynamics`, which reports plainly when the dynamics do not accept finite-sum models.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from solvers._files import atomic_path
from solvers.errors import check_count

from .. import models as M

SIZES = ("quick", "full")


def check_size(size):
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {SIZES}; got {size!r}.")
    return size


# ----------------------------------------------------------------------------- problems
def problem(name: str, hidden=(16,), lam: float = 1e-4, seed: int = 0, classes=None, split: str = "test"):
    """``(model, description)``: an MLP on the digits or on teacher-student data (data seed ``seed``).

    ``split="test"``: the training set and the test set; ``split="val"``: a validation split for tuning,
    the training set without a seeded fifth of it (the model's "test" set is then that fifth; the test
    set is not used).
    """
    if name == "digits":
        data = M.digits(seed=seed, classes=classes)
        desc = f"digits ({data.n_samples} train / {data.n_test} test, {data.n_classes} classes)"
    elif name == "teacher":
        data = M.teacher_student("mlp", n_inputs=20, n_samples=4000, n_test=2000, seed=seed, hidden=(16,),
                                 n_classes=2, noise=0.0)
        desc = "teacher-student tanh MLP 20-16-2, Gaussian inputs (4000 train / 2000 test, no label noise: Bayes error 0)"
    else:
        raise ValueError(f"`problem` must be 'digits' or 'teacher'; got {name!r}.")
    if split == "val":
        data = validation_split(data)
        desc += f"; tuning split {data.n_samples} train / {data.n_test} validation"
    elif split != "test":
        raise ValueError(f"`split` must be 'test' or 'val'; got {split!r}.")
    model = M.MLP(data, hidden, activation="tanh", lam=lam)
    return model, desc + f", MLP {model.sizes} (d = {model.dim}), weight decay {lam:g}"


def validation_split(data, fraction: float = 0.2, seed: int = 12345):
    """The training set of ``data`` split into train (``1 - fraction``) and validation (as the test set)."""
    perm = np.random.default_rng(seed).permutation(data.n_samples)
    nv = int(round(fraction * data.n_samples))
    v, t = np.sort(perm[:nv]), np.sort(perm[nv:])
    return M.Dataset(data.X[t], data.y[t], data.X[v], data.y[v], data.n_classes, data.name + "-val",
                     {**data.params, "validation": fraction, "split_seed": seed}, data.teacher, data.bayes_error)


def one_blas_thread():
    """Context: NumPy's and SciPy's BLAS/LAPACK on one thread.

    On this 2-core machine, after Numba's threads have run, ``numpy.linalg.eigvalsh`` of a 1210 x 1210
    matrix took 3.1 s with OpenBLAS's two threads and 0.24 s with one (measured); dense linear algebra
    of the experiments runs inside this context.  SciPy's BLAS (the one the MLP kernels call from inside
    Numba's threads) is set to one thread for good first
    (:func:`deeprelax.models._mlp_blas.single_thread_blas`): otherwise leaving the context would restore
    its two threads, and the MLP's Hessian-vector products then ran 20-80x slower (measured).
    """
    from threadpoolctl import threadpool_limits

    from ..models._mlp_blas import single_thread_blas

    single_thread_blas()
    return threadpool_limits(1, user_api="blas")


# ----------------------------------------------------------------------------- training
def sgd_momentum(model, x0, *, lr, n_steps: int, batch, momentum: float = 0.9, nesterov: bool = True,
                 seed: int = 0, record_every: int = 0, workers: int = 1):
    """Minibatch SGD with (Nesterov) momentum, the authors' baseline; ``lr``/``batch`` may be callables of the step.

    ``v <- m v + g_B(x)``; ``x <- x - lr (g_B + m v)`` (Nesterov) or ``x <- x - lr v``, minibatches of ``batch``
    indices drawn with replacement from ``numpy.random.default_rng(seed)``.  ``workers > 1``: data-parallel
    SGD, each minibatch split into ``workers`` equal parts whose gradients are computed as separate rows of
    one ``grad_batch`` call (threaded over the rows) and averaged: the same iterates up to round-off.

    Returns
    -------
    dict: ``x`` (d,), ``xs`` (n_rec, d) and ``steps`` (n_rec,) every ``record_every`` steps (and the last),
    ``grad_evals`` (n_rec,) cumulative per-sample gradients / ``n_samples`` (epochs), ``wall`` (s).
    """
    check_count("workers", workers, minimum=1)
    rng = np.random.default_rng(seed)
    x = np.array(x0, dtype=np.float64)
    v = np.zeros_like(x)
    lr_f = lr if callable(lr) else (lambda k: lr)
    b_f = batch if callable(batch) else (lambda k: batch)
    xs, steps, epochs = [x.copy()], [0], [0.0]
    seen = 0
    t0 = time.perf_counter()
    for k in range(n_steps):
        b = int(b_f(k))
        idx = rng.integers(0, model.n_samples, size=b)
        if workers > 1:
            if b % workers:
                raise ValueError(f"`batch` ({b}) must be a multiple of `workers` ({workers}).")
            g = model.grad_batch(np.broadcast_to(x, (workers, x.size)), idx.reshape(workers, -1)).mean(0)
        else:
            g = model.grad_batch(x, idx)
        seen += b
        if momentum:
            v = momentum * v + g
            g = g + momentum * v if nesterov else v
        x -= lr_f(k) * g
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(f"sgd_momentum became non-finite at step {k} (lr={lr_f(k)!r}); reduce lr.")
        if record_every and ((k + 1) % record_every == 0 or k + 1 == n_steps):
            xs.append(x.copy())
            steps.append(k + 1)
            epochs.append(seen / model.n_samples)
    wall = time.perf_counter() - t0
    if not record_every:
        xs.append(x.copy())
        steps.append(n_steps)
        epochs.append(seen / model.n_samples)
    return {"x": x, "xs": np.array(xs), "steps": np.array(steps), "epochs": np.array(epochs), "wall": wall}


class DynamicsUnavailable(RuntimeError):
    """``deeprelax.dynamics`` rejected a finite-sum model (the vectorised loss path has not landed)."""


def run_dynamics(algorithm: str, model, x0, **kw):
    """``deeprelax.dynamics.<algorithm>(model, x0, **kw)``; a :class:`DynamicsUnavailable` if it rejects models."""
    from .. import dynamics

    fn = getattr(dynamics, algorithm)
    try:
        return fn(model, x0, **kw)
    except TypeError as e:
        if "Numba twin" in str(e) or "nb_kind" in str(e):
            raise DynamicsUnavailable(f"deeprelax.dynamics.{algorithm} does not accept finite-sum models yet "
                                      f"({e})") from None
        raise


def dynamics_accepts_models() -> tuple:
    """``(True, "")`` if ``deeprelax.dynamics.sgd`` runs on a model, else ``(False, reason)``."""
    data = M.gaussian_mixture(2, 2, n_samples=8, n_test=0, seed=0)
    model = M.Perceptron(data)
    try:
        run_dynamics("sgd", model, np.zeros(2), lr=0.1, n_steps=1, batch=2, rng=0)
    except DynamicsUnavailable as e:
        return False, str(e)
    return True, ""


# ----------------------------------------------------------------------------- statistics and output
def mean_se(a, axis=0):
    """Mean and standard error over ``axis`` (NaN s.e. for one value)."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[axis]
    m = a.mean(axis)
    se = a.std(axis, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(m, np.nan)
    return m, se


def pm(m, se, fmt="{:.3g}"):
    """``"m +- se"`` text."""
    if se is None or not np.isfinite(se):
        return fmt.format(m)
    return f"{fmt.format(m)} ± {fmt.format(se)}"


def write_summary(out, name: str, lines: list) -> Path:
    path = Path(out) / f"{name}.md"
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def save_results(out, name: str, points: list, results: list, meta: dict) -> Path:
    """All grid points of an experiment in ``out/<name>.h5``: group ``point_i`` with its arrays and parameters."""
    import h5py

    path = Path(out) / f"{name}.h5"
    with atomic_path(path, overwrite=True) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["experiment"] = name
        f.attrs["meta"] = json.dumps(meta, default=str)
        for i, (p, r) in enumerate(zip(points, results)):
            g = f.create_group(f"point_{i:04d}")
            g.attrs["params"] = json.dumps(p, default=str)
            for k, v in r.items():
                if isinstance(v, str):
                    g.attrs[k] = v
                else:
                    g.create_dataset(k, data=np.asarray(v))
    return path
