"""deploy/ describes what the platform runs, not something of its own: each systemd unit starts the very command
`make run` and the tests start (config/launcher.py), and every setting deploy/README.md names is one the code
reads (a misspelt variable would be ignored, silently, in production)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from config import launcher

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CODE = Path(__file__).resolve().parents[2] / "config"
VENV_PYTHON = "/opt/credit/.venv/bin/python"


def unit_command(name: str, **values: str) -> list[str]:
    """The unit's ExecStart as argv, its ${VARIABLES} given `values`."""
    text = (DEPLOY / "systemd" / name).read_text()
    (line,) = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    return [re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], word) for word in shlex.split(line)]


def launched(command: list[str]) -> list[str]:
    return [VENV_PYTHON if word == launcher.PYTHON else word for word in command]


def test_the_web_unit_runs_the_launchers_web_server_bound_for_the_load_balancer():
    command = unit_command("credit-web@.service", WEB_BIND="10.0.0.5:8000", WEB_CONCURRENCY="4", WEB_THREADS="8")
    expected = launched(launcher.gunicorn_command(port=8000, workers=4, threads=8))
    expected[expected.index("--bind") + 1] = "10.0.0.5:8000"
    assert command == expected


def test_the_worker_and_beat_units_run_the_launchers_commands():
    assert unit_command("credit-worker.service", CELERY_CONCURRENCY="2") == launched(
        launcher.celery_worker_command(concurrency=2))
    assert unit_command("credit-beat.service") == launched(
        launcher.celery_beat_command(schedule=Path("/var/lib/credit/celerybeat-schedule")))


def _read_by_the_code() -> set[str]:
    text = "\n".join(p.read_text() for p in CODE.glob("*.py"))
    return set(re.findall(r"""(?:env|env_int|env_bool|secret|environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))


@pytest.mark.parametrize("source", ["README.md", "systemd"])
def test_every_setting_deploy_names_is_read_by_the_code(source):
    path = DEPLOY / source
    text = "\n".join(p.read_text() for p in ([path] if path.is_file() else sorted(path.iterdir())))
    # settings in `backquotes` in the README's tables, ${VARIABLES} and Environment= lines in the units
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", text)) | set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", text))
    named |= set(re.findall(r"^Environment=([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    # the S3 client (boto3) reads these itself; WEB_BIND is the units' own (the address the load balancer reaches)
    outside = {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "WEB_BIND"}
    assert named, "no settings found: the pattern no longer matches the files"
    assert named - outside <= _read_by_the_code()
