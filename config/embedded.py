"""The embedded services for a checkout: a project-local PostgreSQL cluster and a
Redis broker under `var/`, started on demand when DATABASE_URL /
CELERY_BROKER_URL are not set.

PostgreSQL refuses to run as root, so when we are root the cluster runs as the
unprivileged `postgres` user that Debian's package creates. Both listen on unix
sockets under `var/` only: nothing is exposed on the network, and two
checkouts on one machine never collide on a port.

Usage: python -m config.embedded start|stop|status|reset|env
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("CREDIT_VAR_DIR", ROOT / "var"))
PG_DIR = VAR / "pg"
PG_DATA = PG_DIR / "data"
PG_RUN = PG_DIR / "run"
PG_LOG = PG_DIR / "postgres.log"
REDIS_DIR = VAR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
SECRETS_FILE = VAR / "secrets.env"
DB_NAME = "credit"
DB_USER = "credit"
PG_USER = "postgres"  # the unprivileged OS user that owns the cluster when we are root

PG_SETTINGS = {
    "listen_addresses": "''",
    "unix_socket_directories": None,  # filled with PG_RUN
    "max_connections": "200",
    "shared_buffers": "'2GB'",  # keeps the public lookup's tables and indexes cached (24 GiB machines)
    # autoprewarm: the buffer cache's list of pages is saved every 5 minutes and at shutdown, and read back
    # after a start, so a restart does not leave the public search reading every page from disk again.
    "shared_preload_libraries": "'pg_prewarm'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'256MB'",
    "synchronous_commit": "off",  # a crash may lose the last few commits, never corrupt: fine for a dev cluster
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "timezone": "'UTC'",
}


def log(message: str) -> None:
    print(f"[embedded] {message}", file=sys.stderr, flush=True)


def database_url() -> str:
    return f"postgresql://{DB_USER}@/{DB_NAME}?host={PG_RUN}"


def broker_url() -> str:
    return f"redis+socket://{REDIS_SOCKET}"


@contextlib.contextmanager
def _lock():
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / ".embedded.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(f"Missing {', '.join(packages)}: install them with apt-get (needs root).")
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def pg_bindir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    _apt_install("postgresql", "postgresql-contrib")
    return pg_bindir()


def _as_pg_user(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", PG_USER, "--", *cmd]
    return subprocess.run(cmd, **kwargs)


def _ensure_pg_user_can_reach(path: Path) -> None:
    """The cluster's OS user must traverse every parent of var/ (execute bit only)."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


def _pg_running() -> bool:
    if not (PG_DATA / "postmaster.pid").exists():
        return False
    result = _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(PG_DATA), "status"], capture_output=True)
    return result.returncode == 0


def _psql(sql: str, db: str = "postgres") -> str:
    result = _as_pg_user(
        [str(pg_bindir() / "psql"), "-h", str(PG_RUN), "-U", PG_USER, "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def ensure_postgres() -> None:
    bindir = pg_bindir()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            _apt_install("postgresql")
    if not (PG_DATA / "PG_VERSION").exists():
        log(f"creating the PostgreSQL cluster in {PG_DATA}")
        PG_DIR.mkdir(parents=True, exist_ok=True)
        PG_RUN.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PG_DIR, PG_USER)
            shutil.chown(PG_RUN, PG_USER)
        _ensure_pg_user_can_reach(PG_DIR)
        # C.UTF-8: pg_trgm extracts CJK trigrams only under a UTF-8 locale.
        _as_pg_user(
            [str(bindir / "initdb"), "-D", str(PG_DATA), "-U", PG_USER, "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )
    if not _pg_running():
        _write_pg_settings()  # before every start: a changed PG_SETTINGS reaches existing clusters too
        log("starting PostgreSQL")
        _ensure_pg_user_can_reach(PG_DIR)
        PG_RUN.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PG_RUN, PG_USER)
            if PG_LOG.exists():
                shutil.chown(PG_LOG, PG_USER)
        _as_pg_user(
            [str(bindir / "pg_ctl"), "-D", str(PG_DATA), "-l", str(PG_LOG), "-w", "-t", "60", "start"],
            check=True, capture_output=True,
        )
    if _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'") != "1":
        _psql(f"CREATE ROLE {DB_USER} LOGIN CREATEDB CREATEROLE")
    _public_role_ensure()
    if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":
        _psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


def public_role(name: str | None = None) -> str:
    """The public site's database role: `name`, or PUBLIC_DATABASE_ROLE, or credit_public; a plain identifier,
    since it is written into SQL (grants, ALTER ROLE) as it is."""
    role = name or os.environ.get("PUBLIC_DATABASE_ROLE") or "credit_public"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"PUBLIC_DATABASE_ROLE must be a plain lower-case identifier, not {role!r}")
    return role


def _public_role_ensure() -> None:
    """The public site's role (public/migrations/0002 grants it what it may do), with no table statistics
    from its sessions: those would count rows its functions read before their filters. Only a superuser
    may set that, and this is the one place that runs as one."""
    role = public_role()
    if _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'") != "1":
        _psql(f"CREATE ROLE {role} LOGIN")
    _psql(f"ALTER ROLE {role} SET track_counts = off")


def _write_pg_settings() -> None:
    settings = dict(PG_SETTINGS, unix_socket_directories=f"'{PG_RUN}'")
    if not (pg_bindir().parent / "lib" / "pg_prewarm.so").exists():  # a build without contrib: start without it
        settings.pop("shared_preload_libraries")
    lines = ["# Written by config/embedded.py from PG_SETTINGS before each start; edit PG_SETTINGS instead."]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    (PG_DATA / "postgresql.auto.conf").write_text("\n".join(lines) + "\n")  # keeps its owner (postgres)


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    _apt_install("redis-server")
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def _redis_ping() -> bool:
    if not REDIS_SOCKET.exists():
        return False
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(REDIS_SOCKET))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> None:
    if _redis_ping():
        return
    binary = redis_server_binary()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    log("starting Redis (Celery broker)")
    subprocess.run(
        [binary, "--port", "0", "--unixsocket", str(REDIS_SOCKET), "--unixsocketperm", "700",
         "--daemonize", "yes", "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
         "--logfile", str(REDIS_DIR / "redis.log"),
         # queued tasks survive a restart: append-only file, fsync every second
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        check=True,
    )
    for _ in range(100):
        if _redis_ping():
            return
        time.sleep(0.1)
    raise RuntimeError(f"Redis did not start; see {REDIS_DIR / 'redis.log'}")


def ensure_secrets() -> dict[str, str]:
    """Development secrets, made once per checkout and kept in var/secrets.env."""
    VAR.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    wanted = {
        "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": lambda: secrets.token_hex(32),
        "BLIND_INDEX_KEY": lambda: secrets.token_hex(32),
        "DEMO_OPERATOR_PASSWORD": lambda: secrets.token_urlsafe(12),
    }
    missing = {k: make() for k, make in wanted.items() if k not in values}
    if missing:
        values.update(missing)
        SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        os.chmod(SECRETS_FILE, 0o600)
    return values


def ensure_started() -> None:
    """Start whatever embedded service is needed (only those whose URL is unset)."""
    with _lock():
        if not os.environ.get("DATABASE_URL"):
            ensure_postgres()
        if not os.environ.get("CELERY_BROKER_URL"):
            ensure_redis()


def stop() -> None:
    with _lock():
        if (REDIS_DIR / "redis.pid").exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int((REDIS_DIR / "redis.pid").read_text().strip()), 15)
            log("Redis stopped")
        if (PG_DATA / "PG_VERSION").exists() and _pg_running():
            _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(PG_DATA), "-m", "fast", "-w", "stop"],
                        check=False, capture_output=True)
            log("PostgreSQL stopped")


def reset() -> None:
    """Stop the embedded services and delete all their data (demo data is reloaded by `make run`)."""
    stop()
    for path in (PG_DIR, REDIS_DIR, VAR / "batches"):
        shutil.rmtree(path, ignore_errors=True)
    log("embedded data deleted")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command == "start":
        ensure_started()
        ensure_secrets()
    elif command == "stop":
        stop()
    elif command == "reset":
        reset()
    elif command == "status":
        print(f"postgres: {'running' if _pg_running() else 'stopped'}; redis: {'running' if _redis_ping() else 'stopped'}")
    elif command == "env":
        print(f"DATABASE_URL={database_url()}\nCELERY_BROKER_URL={broker_url()}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
