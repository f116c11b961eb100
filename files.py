"""Files and hashes every room uses: writes that appear complete or not at all, and content hashes.

``write_numbered`` and ``write_new`` never replace a file (a temp file hard-linked to its name);
``write_json_atomic`` replaces one whole (a temp file, then ``os.replace``), for files noisekit keeps
up to date itself (a manifest's sidecar, a golden's). The temp files carry the process id, so the
leftovers of a killed run are removed by the next.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile


def user_file_mode() -> int:
    """0o666 less the process umask: the mode open() would give a new file (mkstemp makes 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def remove_stale_temps(directory: str):
    """Delete ``.noisekit-PID-*.tmp`` files left in ``directory`` by a run that was killed (its PID is gone)."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return
    for name in os.listdir(directory):
        found = re.fullmatch(r"\.noisekit-(\d+)-.*\.tmp", name)
        if found and not _alive(int(found.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def write_numbered(directory: str, name_for, first: int, save) -> tuple[str, int]:
    """Write a file with ``save(binary_file)`` and name it ``name_for(n)`` for the first n >= ``first``
    not yet taken in ``directory``; returns (path, n). The file appears complete or not at all (a temp
    file hard-linked to its name, which fails rather than replace a file) and has the user's file mode.
    The temp file's name carries the process id, so leftovers of a killed run are removed by the next."""
    remove_stale_temps(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".noisekit-{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            save(f)
        os.chmod(tmp, user_file_mode())
        n = first
        while True:
            path = os.path.join(directory, name_for(n))
            try:
                os.link(tmp, path)
                return path, n
            except FileExistsError:
                if name_for(n + 1) == name_for(n):  # a fixed name: never overwrite it
                    raise FileExistsError(f"{path} exists; noisekit never overwrites a file") from None
                n += 1
    finally:
        os.unlink(tmp)


def write_new(path: str, save) -> str:
    """``write_numbered`` for one fixed name: the file ``path``, complete, or FileExistsError."""
    directory, name = os.path.split(os.path.abspath(path))
    return write_numbered(directory, lambda n: name, 0, save)[0]


def write_json_atomic(path: str, data: dict, default=None):
    """Write the whole file or nothing: a temp file beside it, then os.replace."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".noisekit-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=default)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def file_hash(path: str) -> str:
    """sha256 of a file, read in 1 MB blocks (a large file is never held in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def value_hash(value) -> str:
    """sha256 of a JSON value, independent of dict order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()
