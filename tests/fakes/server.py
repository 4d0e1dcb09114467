"""What every fake network shares: a threaded WSGI server on 127.0.0.1, started and stopped by tests."""

from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: the fakes serve hundreds in a test."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class LocalServer:
    """Mixin: `start()` serves `self._wsgi` on a free port of 127.0.0.1 in a daemon thread."""

    _server = None
    _thread: threading.Thread | None = None
    quiet = True

    def start(self):
        handler = QuietHandler if self.quiet else WSGIRequestHandler
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"fake-{type(self).__name__.lower()}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    @property
    def port(self) -> int:
        return self._server.server_port

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
