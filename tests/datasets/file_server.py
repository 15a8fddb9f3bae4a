"""A local HTTP server for the fetcher tests: serves files from memory on 127.0.0.1.

Each file can be given a queue of faults, one consumed per request: answer with an
HTTP status, or close the connection after some bytes of the body. Files served with
``ranges=False`` ignore Range requests (answer 200 with the whole file), as some
servers do. Every request is recorded with its Range header.
"""

import http.server
import re
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class ServedFile:
    content: bytes
    faults: list = field(default_factory=list)
    ranges: bool = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: closing ends the body

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server.file_server
        name = self.path.lstrip("/")
        range_header = self.headers.get("Range")
        server.requests.append((name, range_header))
        served = server.files.get(name)
        if served is None:
            self.send_error(404, "Not Found")
            return
        fault = served.faults.pop(0) if served.faults else None
        if isinstance(fault, int):
            self.send_error(fault)
            return
        content, start = served.content, 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and served.ranges:
            start = int(match.group(1))
            if start >= len(content):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(content)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(content) - start))
        self.end_headers()
        body = content[start:]
        if fault is not None:  # ("close_after", n): the connection drops mid-body
            body = body[: fault[1]]
        self.wfile.write(body)


class FileServer:
    """Serves ``files`` on the loopback address until ``stop``."""

    def __init__(self):
        self.files = {}
        self.requests = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.file_server = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def serve(self, name, content, *, faults=(), ranges=True):
        self.files[name] = ServedFile(bytes(content), list(faults), ranges)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


def refused_url():
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
