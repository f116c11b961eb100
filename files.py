"""Files and hashes every room uses: one writer policy, and content hashes.

Every file noisekit makes appears complete or not at all and never replaces a file it does not keep:
``write_numbered`` and ``write_new`` never replace anything (a temp file hard-linked to its name);
``replace_kept`` replaces a file whole (a temp file, then ``os.replace``) only where the caller keeps it
up to date itself (a golden it recorded), else it is ``write_new``. The temp files carry the process id,
so the leftovers of a killed run are removed by the next. An OSError names the file it was writing.
What a command makes on the side (previews, a batch's items in the making) goes in one private folder
made for the command and removed on every way out (``scratch_folder``, ``temp_folder``). Reading: a folder's
files without its broken symbolic links, said once (``folder_files``); a file up to a size (``read_limited``).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile

from .exits import clip


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
    with _temp_beside(os.path.join(directory, name_for(first))) as tmp:
        save_into(tmp, save)
        n = first
        while True:
            path = os.path.join(directory, name_for(n))
            try:
                os.link(tmp, path)
                return path, n
            except FileExistsError:
                if name_for(n + 1) == name_for(n):  # a fixed name: never overwrite it
                    raise exists(path) from None
                n += 1


def write_new(path: str, save) -> str:
    """``write_numbered`` for one fixed name: the file ``path``, complete, or FileExistsError."""
    directory, name = os.path.split(os.path.abspath(path))
    return write_numbered(directory, lambda n: name, 0, save)[0]


def replace_kept(path: str, save, kept: bool) -> str:
    """Write ``path`` whole, replacing it only where ``kept`` says noisekit keeps that file up to date
    itself (a golden it recorded, the goldens' sidecar); any other file there is refused (``write_new``)."""
    if not kept:
        return write_new(path, save)
    with _temp_beside(path) as tmp:
        save_into(tmp, save)
        os.replace(tmp, path)
    return path


def exists(path: str) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "exists; noisekit never overwrites a file: choose another name", path)


@contextlib.contextmanager
def _temp_beside(path: str):
    """A temp file in ``path``'s folder, removed on every way out; an OSError names ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        remove_stale_temps(directory)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".noisekit-{os.getpid()}-", suffix=".tmp")
        os.close(fd)
        try:
            yield tmp
        finally:
            with contextlib.suppress(FileNotFoundError):  # os.replace moved it
                os.unlink(tmp)
    except OSError as e:
        if e.filename is None or os.path.basename(str(e.filename)).startswith(".noisekit-"):
            e.filename = path  # a full disk or a missing folder: say which file could not be written
        raise


def save_into(tmp: str, save):
    """``save(binary_file)`` into the temp file, with the user's file mode (mkstemp makes 0o600)."""
    with open(tmp, "wb") as f:
        save(f)
    os.chmod(tmp, user_file_mode())


_scratch = {"dir": None}


@contextlib.contextmanager
def scratch_folder():
    """Within: ``temp_folder`` makes its folders in one private folder, removed (all of it) on the way out."""
    root = tempfile.mkdtemp(prefix="noisekit-run-")
    old, _scratch["dir"] = _scratch["dir"], root
    try:
        yield root
    finally:
        _scratch["dir"] = old
        shutil.rmtree(root, ignore_errors=True)


def temp_folder(prefix: str) -> str:
    """A fresh private (0700) folder in the command's scratch folder (outside a command: the system's temp)."""
    return tempfile.mkdtemp(prefix=prefix, dir=_scratch["dir"])


def folder_files(folder: str, wanted, who: str) -> list[str]:
    """The sorted names of the files in ``folder`` for which ``wanted(name)``; a symbolic link of such a name that
    leads to no file (dangling, or looping) is skipped, and said once on stderr by ``who`` (the command, the option)."""
    names = sorted(f for f in os.listdir(folder) if wanted(f))
    broken = [f for f in names if os.path.islink(os.path.join(folder, f)) and not os.path.exists(os.path.join(folder, f))]
    if broken:
        shown = ", ".join(broken[:5]) + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
        print(clip(f"{who}: skipped {len(broken)} symbolic link{'s' * (len(broken) > 1)} that "
                   f"lead{'s' * (len(broken) == 1)} to no file: {shown}"), file=sys.stderr)
    return [f for f in names if os.path.isfile(os.path.join(folder, f))]


def read_limited(path: str, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (``what`` it should be, for the message): a device, a pipe or a
    folder is refused before it is opened (it may never end, or block), and so is a file over ``limit`` bytes."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe"),
                                              (stat.S_ISSOCK, "a socket")) if test(mode)), "a device")
        raise ValueError(f"{path}: {kind}, not a file; give {what}")
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path}: larger than {limit / 2**20:g} MB, the most {what} may have")
    return data


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
