"""A tiny MJPEG-over-HTTP camera on 127.0.0.1 for feed tests (multipart/x-mixed-replace)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "camauditframe"


class MjpegServer:
    """Serves a moving square as MJPEG at /stream; stop() drops every client, start() resumes
    on the same port."""

    def __init__(self, fps: float = 25.0, size: tuple[int, int] = (160, 120)) -> None:
        self.fps = fps
        self.size = size
        self.port = 0
        self.frames_sent = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self.frozen = threading.Event()  # set: keep connections open but send nothing
        self._handlers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream"

    def jpeg(self, n: int) -> bytes:
        w, h = self.size
        img = np.full((h, w, 3), 40, np.uint8)
        x = (n * 4) % (w - 20)
        img[40:60, x : x + 20] = (0, 200, 255)
        ok, buf = cv2.imencode(".jpg", img)
        assert ok
        return buf.tobytes()

    def start(self) -> None:
        owner = self
        self._halt.clear()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner._handlers.append(threading.current_thread())
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                n = 0
                try:
                    while not owner._halt.is_set():
                        if owner.frozen.is_set():
                            owner._halt.wait(0.05)
                            continue
                        data = owner.jpeg(n)
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n".encode()
                            + data
                            + b"\r\n"
                        )
                        self.wfile.flush()
                        owner.frames_sent += 1
                        n += 1
                        owner._halt.wait(1.0 / owner.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="mjpeg", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and drop the connected clients (a camera that goes away)."""
        self._halt.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
        for t in self._handlers:
            t.join(5)
        self._handlers.clear()
