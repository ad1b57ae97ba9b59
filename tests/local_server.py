"""A web server on 127.0.0.1 that stands in for the download sites in tests: no real network is ever used.

``serve({"/mnist.npz": b"..."})`` is a context manager yielding the base URL. The server honours ``Range``
requests (as the real sites do, so downloads can resume), records every request, and can be told to cut a
response after some bytes, like a dropped connection.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator


class Site:
    """The files served, the requests seen (path, Range header) and a byte limit per response (None: no limit)."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: int | None = None
        self.url = ""


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            site.requests.append((self.path, self.headers.get("Range")))
            body = site.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[len("bytes="):-1])
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            part = body[start:]
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            if site.cut_after is not None:
                self.wfile.write(part[: site.cut_after])
                self.wfile.flush()
                self.connection.close()  # the client sees a short read
                return
            self.wfile.write(part)

    return Handler


@contextmanager
def serve(files: dict[str, bytes]) -> Iterator[Site]:
    """Serve ``files`` (URL path -> content) on a free port of 127.0.0.1; yields the Site (``site.url`` is the base)."""
    site = Site(files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
