"""gunicorn's threaded worker, with a bound on the time a client may take to send a request's head.

gunicorn's gthread worker leaves a connection that sends nothing to its poller (no thread), but a
connection that sends half a request head takes a thread, which then waits in a blocking read for the
rest; gunicorn has no setting that bounds it. Here one watchdog thread per worker stops reading from a
connection whose head is not complete REQUEST_HEAD_SECONDS after a thread took it up (shutdown(SHUT_RD):
the blocked read ends as if the client had left), so slow or idle clients hold a thread for that long
at most. Once the head is in, the application decides how long it reads the body; a reverse proxy in
front should buffer bodies (README, "Serving").
"""

from __future__ import annotations

import os
import socket
import threading
import time

from gunicorn.workers.gthread import ThreadWorker as _GunicornThreadWorker

REQUEST_HEAD_SECONDS = float(os.environ.get("WEB_REQUEST_HEAD_SECONDS", "10"))


class ThreadWorker(_GunicornThreadWorker):
    """`--worker-class config.gunicorn_worker.ThreadWorker`: gthread, with a request-head deadline."""

    def init_process(self) -> None:
        self._head_deadlines: dict[object, float] = {}  # connection → when its head must be in
        self._head_lock = threading.Lock()
        threading.Thread(target=self._head_watchdog, name="request-head-watchdog", daemon=True).start()
        super().init_process()

    def handle(self, conn):
        with self._head_lock:
            self._head_deadlines[conn] = time.monotonic() + REQUEST_HEAD_SECONDS
        try:
            return super().handle(conn)
        finally:
            # before gunicorn closes the socket (on its main thread): the watchdog never sees a reused fd
            with self._head_lock:
                self._head_deadlines.pop(conn, None)

    def handle_request(self, req, conn):
        with self._head_lock:
            self._head_deadlines.pop(conn, None)  # the head is in
        return super().handle_request(req, conn)

    def _head_watchdog(self) -> None:
        while True:
            time.sleep(min(1.0, REQUEST_HEAD_SECONDS / 4))
            now = time.monotonic()
            with self._head_lock:
                late = [conn for conn, deadline in self._head_deadlines.items() if deadline <= now]
                for conn in late:
                    del self._head_deadlines[conn]
                    try:
                        conn.sock.shutdown(socket.SHUT_RD)
                    except OSError:
                        pass  # already gone
