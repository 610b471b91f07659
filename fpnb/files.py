"""Writing files so that a crash leaves either the old file or the new one, never half of either."""
from __future__ import annotations

import fcntl
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that replaces ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` for the block: read-modify-write of a file that processes
    running side by side (the report's parallel notebooks) share."""
    lock = Path(path).with_name(f".{Path(path).name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def deflate_zip(path: str | Path) -> Path:
    """Rewrite a zip archive (a ``.keras`` file, which Keras stores uncompressed) with every member deflated,
    keeping names, order and dates; float weights shrink by about a tenth and load as before."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w") as target:
            for info in source.infolist():
                target.writestr(zipfile.ZipInfo(info.filename, info.date_time), source.read(info),
                                compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path
