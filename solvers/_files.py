"""Safe output files: atomic writes, refusal to replace foreign files, early writability checks.

Every HDF5 file the package writes (results by :func:`deeprelax.io.save`,
checkpoints by :func:`solvers.checkpoint.write_checkpoint`) goes through
:func:`atomic_path`:

* the data is written to a *unique* temporary file in the target directory
  (``.<name>.<host>.<pid>.<random>.tmp``), then renamed over the target with
  :func:`os.replace` (atomic on POSIX), so concurrent writers never share a
  temporary file and a reader sees either the old or the new complete file;
* the new file gets the permissions of the file it replaces, or those of an ordinary
  ``open(path, "w")`` (``0666 & ~umask``; a bare temporary file would be ``0600``);
* the temporary file is removed on every failure path (exceptions, Ctrl-C);
  temporaries left by a killed writer (a dead PID on this host) and the legacy
  names ``<name>.tmp`` / ``.<name>.tmp-<pid>`` are removed before the next write;
* an existing target that is not an HDF5 file written by this package (nor
  empty) is never replaced unless ``overwrite=True`` (``FileExistsError``).
"""
from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "check_writable", "is_deeprelax_file", "remove_stale_temporaries"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Write failures of the disk rather than of the path: full disk, quota, file too large, I/O error.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # (not thread-safe; only where /proc does not tell)
    os.umask(mask)
    return mask


def _new_file_mode(path: Path) -> int:
    """The permissions of a replaced file, or those ``open(path, "w")`` would give (0666 & ~umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def is_deeprelax_file(path) -> bool:
    """Whether ``path`` is an HDF5 file written by this package (a result or a checkpoint)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_SIGNATURE:
                return False
        import h5py

        with h5py.File(path, "r") as f:
            return "deeprelax_version" in f.attrs or f.attrs.get("format") == "deeprelax-checkpoint"
    except Exception:  # unreadable or broken: not one of ours
        return False


def remove_stale_temporaries(path) -> list:
    """Remove temporary files of ``path`` left by writers that died; return the removed paths."""
    path = Path(path)
    parent, name = path.parent, path.name
    host = _host()
    pat = re.compile(r"^\." + re.escape(name) + r"\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
    legacy_pid = re.compile(r"^\." + re.escape(name) + r"\.tmp-(?P<pid>\d+)$")
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        stale = False
        m = pat.match(e.name) or legacy_pid.match(e.name)
        if m is not None:
            same_host = m.groupdict().get("host", host) == host
            stale = same_host and not _pid_alive(int(m.group("pid")))
        elif e.name == name + ".tmp":  # written by deeprelax < 0.2 (fixed name): only if it is HDF5
            try:
                with open(e.path, "rb") as fh:
                    stale = fh.read(8) == _HDF5_SIGNATURE
            except OSError:
                stale = False
        if stale:
            try:
                os.unlink(e.path)
                removed.append(Path(e.path))
            except OSError:
                pass
    return removed


def check_writable(path, *, argument: str = "path", overwrite: bool = False,
                   fix: str = "Choose another path or delete the file") -> Path:
    """Check, before any work, that ``path`` can be (re)written; create missing parent directories.

    Raises
    ------
    IsADirectoryError, NotADirectoryError, PermissionError, OSError
        With a message naming ``argument`` and the path.
    FileExistsError
        ``path`` exists, is not empty and is not an HDF5 file written by this package
        (unless ``overwrite``).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"`{argument}` {str(path)!r} is a directory; give a file path.")
    if path.exists() and not overwrite and path.stat().st_size > 0 and not is_deeprelax_file(path):
        raise FileExistsError(
            f"`{argument}` {str(path)!r} exists and is not a deeprelax HDF5 file; refusing to replace it. {fix}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"`{argument}` {str(path)!r}: a parent of the path is a file, not a "
                                 f"directory.") from None
    except OSError as e:
        raise type(e)(e.errno, f"`{argument}` {str(path)!r}: cannot create its directory: "
                               f"{e.strerror}") from None
    try:
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise type(e)(e.errno, f"`{argument}` {str(path)!r}: its directory is not writable: "
                               f"{e.strerror}") from None
    return path


@contextmanager
def atomic_path(path, *, argument: str = "path", overwrite: bool = False,
                fix: str = "Choose another path or delete the file"):
    """Context manager yielding a unique temporary path; on success it is renamed to ``path``.

    >>> with atomic_path("out.h5") as tmp:      # doctest: +SKIP
    ...     write_hdf5(tmp)

    The temporary file is deleted if the block raises (any exception, including
    ``KeyboardInterrupt``) or the rename fails.
    """
    path = check_writable(path, argument=argument, overwrite=overwrite, fix=fix)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp")
    try:
        os.fchmod(fd, _new_file_mode(path))  # mkstemp makes 0600: keep the mode an ordinary write would give
    except (OSError, AttributeError):  # (no fchmod on Windows)
        pass
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:  # h5py names the temporary, in a long line
            raise OSError(e.errno, f"`{argument}` {str(path)!r} could not be written: {os.strerror(e.errno)} "
                                   f"(nothing was replaced; the partial temporary file is removed)") from e
        raise
