"""Shared helpers of the figure scripts: output directory, cached results, argument parsing."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:          # run as `python figures/NAME.py` from a checkout
    sys.path.insert(0, str(ROOT))


def parse(description: str, argv=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=str(ROOT / "figures" / "out"), help="output directory (default figures/out)")
    p.add_argument("--recompute", action="store_true", help="ignore cached .h5 results")
    p.add_argument("--size", choices=("tiny", "full"), default="full", help="problem size (tiny: smoke tests)")
    return p.parse_args(argv)


def cached(path: Path, compute, recompute: bool = False):
    """Load the result at ``path`` if it exists (and not ``recompute``); else ``compute()`` and save it."""
    from deeprelax.io import load, save

    path = Path(path)
    if path.exists() and not recompute:
        try:
            return load(path)
        except Exception as exc:  # a stale or foreign file: recompute
            print(f"note: could not read cached {path} ({exc}); recomputing")
    res = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    save(res, path, overwrite=True)  # the cache file is this script's own: replace a damaged one
    return res


def outdir(out) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return out
