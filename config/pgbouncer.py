"""PgBouncer run from the deployment's own deploy/pgbouncer.ini in front of a local database, with only its
addresses, ports, paths and (if asked) pool sizes replaced: the internet zone through a transaction pool as
deploy/README.md describes it. tests/public/test_pgbouncer.py and `bench/lookup --through-pgbouncer` start it."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

from config import embedded

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "pgbouncer.ini"


def binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"  # sbin: not on every user's PATH
    if not os.access(found, os.X_OK):
        raise RuntimeError("pgbouncer is not installed: scripts/provision --test installs it")
    return found


class PgBouncer:
    """deploy/pgbouncer.ini run by an unprivileged user (PgBouncer refuses root): the OS user of the embedded
    cluster, which may enter its socket directory, from a private folder of that user's. Both pools of the file
    (`credit_public`, `credit`) lead to database `dbname` at `host`; `passwords` are the roles' that log in
    through it (the admin console's `pgbouncer` is added). A pool size left None stays the file's."""

    def __init__(self, *, host: str, port: str | int, dbname: str, passwords: dict[str, str], listen_port: int,
                 pool_size: int | None = None, reserve_pool_size: int | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="credit-pgbouncer-"))
        self.host, self.port, self.dbname = host, str(port or "5432"), dbname
        self.listen_port = listen_port
        self.admin_password = secrets.token_hex(16)
        self.passwords = {**passwords, "pgbouncer": self.admin_password}
        self.pool_sizes = {"default_pool_size": pool_size, "reserve_pool_size": reserve_pool_size}
        self.process: subprocess.Popen | None = None

    def _config(self) -> str:
        text = TEMPLATE.read_text()
        text = re.sub(r"\bhost=\S+ port=\S+ dbname=\S+", f"host={self.host} port={self.port} dbname={self.dbname}",
                      text)
        replaced = {"listen_addr": "127.0.0.1", "listen_port": str(self.listen_port),
                    "auth_file": self.folder / "userlist.txt", "logfile": self.folder / "pgbouncer.log",
                    "pidfile": self.folder / "pgbouncer.pid", "unix_socket_dir": self.folder,
                    **{key: str(size) for key, size in self.pool_sizes.items() if size is not None}}
        for key, value in replaced.items():
            text, found = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
            if found != 1:
                raise RuntimeError(f"deploy/pgbouncer.ini has no {key}")
        return text

    def start(self) -> None:
        (self.folder / "pgbouncer.ini").write_text(self._config())
        (self.folder / "userlist.txt").write_text(
            "".join(f'"{user}" "{password}"\n' for user, password in self.passwords.items()))
        command = [binary(), str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            for path in [self.folder, *self.folder.iterdir()]:
                shutil.chown(path, embedded.PG_USER, embedded.PG_USER)
            command = ["runuser", "-u", embedded.PG_USER, "--", *command]
        # a session of its own: stop() ends runuser and PgBouncer together with one signal to the group
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.admin("SHOW VERSION")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"PgBouncer did not start: {self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def admin(self, command: str) -> list[dict]:
        """A command of PgBouncer's admin console (simple query protocol only: a client-side cursor)."""
        with psycopg.connect(host="127.0.0.1", port=self.listen_port, dbname="pgbouncer", user="pgbouncer",
                             password=self.admin_password, autocommit=True, cursor_factory=psycopg.ClientCursor,
                             connect_timeout=5) as connection, connection.cursor() as cursor:
            cursor.execute(command)
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()] if names else []

    def url(self, user: str, pool: str) -> str:
        """A DATABASE_URL that reaches pool `pool` through this PgBouncer as `user`."""
        return (f"postgresql://{quote(user, safe='')}:{quote(self.passwords[user], safe='')}"
                f"@127.0.0.1:{self.listen_port}/{pool}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)
