"""Downloading one file: resumable, with a progress bar, checked against its sha256, never half-written.

The bytes go to a hidden ``.<name>.partial-download`` beside the target; a later call resumes it with an HTTP
range request when the server allows, and the file only gets its real name once complete (and checked).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 20
TIMEOUT_S = 60
USER_AGENT = "convnets-course"


class DownloadError(OSError):
    """A download failed; the message says which URL and why (``offline`` is true when the host was unreachable)."""

    def __init__(self, message: str, offline: bool = False):
        super().__init__(message)
        self.offline = offline


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file, hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def partial_path(target: Path) -> Path:
    """Where the bytes of ``target`` collect while it downloads."""
    return target.with_name(f".{target.name}.partial-download")


def _open(url: str, start: int):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # the partial file is already complete (or longer than the file)
            return None
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"{url}: {reason}", offline=True) from None


def download(url: str, target: str | os.PathLike, sha256: str | None = None, description: str | None = None) -> Path:
    """Download ``url`` to ``target`` unless ``target`` is already there (and matches ``sha256`` when given).

    Resumes an earlier interrupted download of the same target. Raises DownloadError when the server cannot be
    reached or answers with an error, and ValueError when the finished file does not match ``sha256`` (the bad
    bytes are deleted, so the next call starts afresh).
    """
    target = Path(target)
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    start = partial.stat().st_size if partial.is_file() else 0
    response = _open(url, start)
    if response is not None:
        from tqdm import tqdm  # the plain text bar: tqdm.auto warns in kernels without ipywidgets
        with response:
            resumed = start and getattr(response, "status", 200) == 206
            length = response.headers.get("Content-Length")
            total = int(length) + (start if resumed else 0) if length else None
            with open(partial, "ab" if resumed else "wb") as out, tqdm(
                total=total, initial=start if resumed else 0, unit="B", unit_scale=True, unit_divisor=1024,
                desc=description or target.name, miniters=1, mininterval=1.0,
            ) as bar:
                try:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
                except (TimeoutError, ConnectionError, urllib.error.URLError, http.client.HTTPException) as error:
                    raise DownloadError(f"{url}: interrupted ({error!r}); run again to resume", offline=True) from None
        if total is not None and (got := partial.stat().st_size) < total:  # the connection closed early
            raise DownloadError(f"{url}: interrupted after {got:,} of {total:,} bytes; run again to resume",
                                offline=True)
    if sha256 is not None and (found := sha256_of(partial)) != sha256:
        partial.unlink()
        raise ValueError(f"{url}: the download's sha256 is {found}, expected {sha256}; deleted it, run again")
    os.replace(partial, target)
    return target


def copy_in(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a local file to ``target`` the same way: through a hidden partial file, renamed when complete."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return target
