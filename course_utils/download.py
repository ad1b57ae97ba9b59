"""Downloading one file: resumable, with progress, checked against its sha256, never half-written.

The bytes go to a hidden ``.<name>.partial-download`` beside the target; a later call resumes it with an HTTP
range request when the server allows, and the file only gets its real name once complete (and checked). Standard
library only: the data command runs on the base Python.
"""
from __future__ import annotations

import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .files import sha256_of

CHUNK = 1 << 20
TIMEOUT_S = 60
USER_AGENT = "convnets-course"


class DownloadError(OSError):
    """A download failed; the message says which URL and why (``offline`` is true when the host was unreachable)."""

    def __init__(self, message: str, offline: bool = False):
        super().__init__(message)
        self.offline = offline


def _show_progress(description: str, done: int, total: int | None, end: str = "") -> None:
    """How much of a download is here, on one line of stderr that each call rewrites."""
    amount = f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB ({done / total:.0%})" if total else f"{done / 1e6:,.1f} MB"
    print(f"\r{description}: {amount}", end=end, file=sys.stderr, flush=True)


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
    partial = target.with_name(f".{target.name}.partial-download")  # kept when interrupted, to resume
    start = partial.stat().st_size if partial.is_file() else 0
    response = _open(url, start)
    if response is not None:
        with response:
            resumed = start and getattr(response, "status", 200) == 206
            length = response.headers.get("Content-Length")
            total = int(length) + (start if resumed else 0) if length else None
            label, done, shown = description or target.name, (start if resumed else 0), 0.0
            with open(partial, "ab" if resumed else "wb") as out:
                try:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if time.monotonic() - shown >= 1.0:  # once a second is enough to see it move
                            _show_progress(label, done, total)
                            shown = time.monotonic()
                except (TimeoutError, ConnectionError, urllib.error.URLError, http.client.HTTPException) as error:
                    raise DownloadError(f"{url}: interrupted ({error!r}); run again to resume", offline=True) from None
                finally:
                    _show_progress(label, done, total, end="\n")
        if total is not None and (got := partial.stat().st_size) < total:  # the connection closed early
            raise DownloadError(f"{url}: interrupted after {got:,} of {total:,} bytes; run again to resume",
                                offline=True)
    if sha256 is not None and (found := sha256_of(partial)) != sha256:
        partial.unlink()
        raise ValueError(f"{url}: the download's sha256 is {found}, expected {sha256}; deleted it, run again")
    os.replace(partial, target)
    return target

