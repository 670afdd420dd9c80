"""Writing files safely: all or nothing (`atomic_write`), and output folders that are never
created out of a typo (`make_folder`).

Example:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_write(os.path.join(folder, "a.txt"), "w") as f:
    ...     _ = f.write("hello")
    >>> open(os.path.join(folder, "a.txt")).read(), os.listdir(folder)
    ('hello', ['a.txt'])
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["OutputPathError", "atomic_write", "make_folder"]


class OutputPathError(ValueError):
    """An output path that cannot be used (its folder is a file, or several folder levels are missing)."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Write ``path`` all or nothing: a temporary file in the same folder, renamed over ``path``
    (``os.replace``) only when the ``with`` block ends without an error.

    An error (or Ctrl-C) inside the block removes the temporary file and leaves an existing
    ``path`` exactly as it was. The new file gets the usual permissions (the umask applies).

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "keep.txt")
        >>> _ = open(p, "w").write("old")
        >>> try:
        ...     with atomic_write(p, "w") as f:
        ...         _ = f.write("half")
        ...         raise RuntimeError("disk full")
        ... except RuntimeError:
        ...     pass
        >>> open(p).read()
        'old'
    """
    target = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(target)
    while True:  # O_EXCL with a random name: never clobber another writer's temporary file
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:  # pragma: no cover - a 32-bit random name collision
            continue
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_folder(folder: str | os.PathLike[str], create: bool = True) -> Path:
    """Make sure ``folder`` exists, creating at most its last level; returns it as a `Path`.

    ``create=False`` only checks that it could be made (nothing is created).

    A folder whose parent is missing too is refused (a typo such as ``/nonexistent/dir`` must not
    create directories anywhere), and so is a path that is a file or lies under a file. Both raise
    `OutputPathError` with the fix.

    Example:
        >>> import os, tempfile
        >>> base = tempfile.mkdtemp()
        >>> make_folder(os.path.join(base, "runs")).is_dir()
        True
        >>> try:
        ...     make_folder(os.path.join(base, "no", "such", "dir"))
        ... except OutputPathError as err:
        ...     print(str(err).split(";")[0].replace(base, "BASE"))
        the folder 'BASE/no/such/dir' does not exist and neither does 'BASE/no/such'
    """
    path = Path(os.path.abspath(os.fspath(folder)))
    if path.is_dir():
        return path
    if path.exists():
        raise OutputPathError(f"{str(path)!r} is a file, not a folder; choose another folder name")
    above = path.parent
    while not above.exists():  # the nearest existing ancestor decides the message ("/" exists)
        above = above.parent
    if not above.is_dir():
        raise OutputPathError(f"cannot create the folder {str(path)!r}: {str(above)!r} is a file, not "
                              "a folder; choose a path under a folder")
    if above != path.parent:
        raise OutputPathError(
            f"the folder {str(path)!r} does not exist and neither does {str(path.parent)!r}; only the "
            f"last level is created, so check the path for a typo or create it first "
            f"(mkdir -p {str(path)!r})")
    if not create:
        return path
    try:
        path.mkdir(exist_ok=True)
    except OSError as err:
        raise OutputPathError(f"cannot create the folder {str(path)!r}: {err.strerror}; choose a "
                              "writable folder") from None
    return path
