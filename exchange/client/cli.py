"""credit-exchange: push batches to the platform and read from it, signing every request.

  credit-exchange --url URL --keyid ID --key-file KEY.pem push FILE --category C [--batch-id B] [--no-wait]
  credit-exchange … status BATCH | rejections BATCH | receipt BATCH | changes [--category C] [--cursor X]
  credit-exchange … subject CODE [--category C --cursor X]
  credit-exchange … lookup --id-type resident_id [--category C --cursor X]   (the ID number from stdin or a prompt)
  credit-exchange … objections [--status open] | decide-objection ID --decision corrected|upheld --reason TEXT
  credit-exchange … repairs [--status open] | decide-repair ID --decision approved|rejected --reason TEXT
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

from tqdm import tqdm

from exchange.client.session import (
    FINISHED,
    ExchangeError,
    ExchangeSession,
    UploadStream,
    file_digest,
    load_private_key,
)


def _print(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".xlsx": XLSX}


def _content_type(path: Path, given: str | None) -> str:
    if given:
        return given
    return CONTENT_TYPES.get(path.suffix.lower(), "application/x-ndjson")


def push(session: ExchangeSession, args) -> int:
    path = Path(args.file)
    size = path.stat().st_size
    with tqdm(total=size, unit="B", unit_scale=True, desc="digest", disable=args.quiet) as bar:
        digest = file_digest(path, bar)
    batch_id = args.batch_id or f"{path.stem}-{digest[9:25].replace('/', '_').replace('+', '-')}"
    with tqdm(total=size, unit="B", unit_scale=True, desc="upload", disable=args.quiet) as bar:
        response = session.request("POST", "batches", params={"category": args.category, "batch_id": batch_id},
                                   body=UploadStream(path, bar), body_digest=digest,
                                   content_type=_content_type(path, args.content_type))
    batch = response.json()
    if not args.quiet:
        print(f"batch {batch['id']} ({batch_id}): {'accepted for processing' if response.status_code == 202 else 'already received'}",
              file=sys.stderr)
    if args.no_wait:
        _print(batch)
        return 0
    if batch["status"] not in FINISHED:
        batch = session.batch_finished(batch["id"], pause=args.poll)
    _print(batch)
    _say_why_failed(batch)
    _say_ignored(batch)
    _, payload = session.receipt(batch["id"])
    if payload["content_digest"] != digest or payload["batch"] != batch["id"]:
        raise ExchangeError("the receipt does not match the batch that was sent")
    print(f"receipt verified: log entry {payload['log_index']}, head {payload['log_head']}", file=sys.stderr)
    return 0 if batch["status"] == "completed" else 3


def _say_why_failed(batch: dict) -> None:
    if batch["status"] == "failed":
        print(f"batch {batch['id']} failed ({batch.get('failure_code', '')}): {batch.get('failure_reason', '')}",
              file=sys.stderr)


def _say_ignored(batch: dict) -> None:
    if batch.get("ignored_columns"):
        print(f"columns not in the catalog, ignored: {'、'.join(batch['ignored_columns'])}", file=sys.stderr)


def status(session: ExchangeSession, args) -> int:
    batch = session.request("GET", f"batches/{args.batch}").json()
    _print(batch)
    _say_why_failed(batch)
    _say_ignored(batch)
    return 0


def rejections(session: ExchangeSession, args) -> int:
    cursor = None
    while True:
        page = session.request("GET", f"batches/{args.batch}/rejections",
                               params={"cursor": cursor} if cursor else None).json()
        for row in page["results"]:
            print(json.dumps(row, ensure_ascii=False))
        cursor = page["next_cursor"]
        if not cursor:
            return 0


def _paging(args) -> dict[str, str]:
    return {k: v for k, v in {"category": args.category, "cursor": args.cursor}.items() if v}


def id_number_read(given: str | None) -> str:
    """The ID number to look up: piped on stdin, or typed at a prompt that does not echo it. Given on the
    command line it works too, but every user of the machine can read a command line (ps)."""
    if given:
        print("credit-exchange: --id-number is visible to other users in the process list; "
              "prefer stdin or the prompt", file=sys.stderr)
        return given.strip()
    if sys.stdin.isatty():
        return getpass.getpass("ID number: ").strip()
    return sys.stdin.readline().strip()


def lookup(session: ExchangeSession, args) -> int:
    number = id_number_read(args.id_number)
    if not number:
        raise ExchangeError("no ID number given (pipe it on stdin or type it at the prompt)")
    body = json.dumps({"id_type": args.id_type, "id_number": number}).encode()
    _print(session.request("POST", "subjects/lookup", params=_paging(args) or None, body=body,
                           content_type="application/json").json())
    return 0


def listing(session: ExchangeSession, resource: str, status: str | None) -> int:
    """Every objection or repair request of the department's records (with `status`, only those), one JSON
    line each, page after page."""
    cursor = None
    while True:
        params = {k: v for k, v in {"status": status, "cursor": cursor}.items() if v}
        page = session.request("GET", resource, params=params or None).json()
        for item in page["results"]:
            print(json.dumps(item, ensure_ascii=False))
        cursor = page["next_cursor"]
        if not cursor:
            return 0


def decide(session: ExchangeSession, resource: str, args) -> int:
    body = json.dumps({"decision": args.decision, "reason": args.reason}, ensure_ascii=False).encode()
    _print(session.request("POST", f"{resource}/{args.id}/decision", body=body, content_type="application/json").json())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="credit-exchange", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("CREDIT_EXCHANGE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--keyid", default=os.environ.get("CREDIT_EXCHANGE_KEYID"), required=False)
    parser.add_argument("--key-file", default=os.environ.get("CREDIT_EXCHANGE_KEY_FILE"))
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("push", help="submit a batch file, wait for it and verify its receipt")
    p.add_argument("file")
    p.add_argument("--category", required=True)
    p.add_argument("--batch-id", help="your id for this batch (default: file name + digest prefix)")
    p.add_argument("--content-type", help="default: by extension (.csv → text/csv; charset=utf-8, "
                   ".xlsx → Excel, else NDJSON)")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--poll", type=float, default=2.0,
                   help="seconds between status requests when the platform is too busy to hold one until the batch finishes")
    for name in ("status", "rejections", "receipt"):
        commands.add_parser(name).add_argument("batch", type=int)
    c = commands.add_parser("changes", help="one page of the change feed")
    c.add_argument("--category")
    c.add_argument("--cursor")
    c.add_argument("--limit", type=int, default=100)
    s = commands.add_parser("subject", help="a subject's unified record, a page of records per category")
    s.add_argument("code", help="USCC, registration number or organisation code")
    lk = commands.add_parser("lookup", help="a natural person's unified record; the ID number is read from stdin "
                                            "or a prompt, never put in a URL")
    lk.add_argument("--id-type", default="resident_id", choices=["resident_id", "passport", "other"])
    lk.add_argument("--id-number", help=argparse.SUPPRESS)  # works, but shows in ps: stdin or the prompt instead
    for sub in (s, lk):
        sub.add_argument("--category", help="only this category (to page through it)")
        sub.add_argument("--cursor", help="with --category: its next_cursors entry from the previous answer")
    for resource, statuses, decisions in (("objections", ["open", "corrected", "upheld"], ["corrected", "upheld"]),
                                          ("repairs", ["open", "approved", "rejected"], ["approved", "rejected"])):
        commands.add_parser(resource, help=f"{resource} against your department's records, one JSON line each"
                            ).add_argument("--status", choices=statuses)
        d = commands.add_parser(f"decide-{resource[:-1]}", help=f"decide one of your {resource} (signed, logged)")
        d.add_argument("id", type=int)
        d.add_argument("--decision", required=True, choices=decisions)
        d.add_argument("--reason", required=True, help="why, in words the enterprise will read")
    args = parser.parse_args(argv)
    if not args.keyid or not args.key_file:
        parser.error("--keyid and --key-file are required (or CREDIT_EXCHANGE_KEYID / CREDIT_EXCHANGE_KEY_FILE)")
    try:
        session = ExchangeSession(url=args.url, keyid=args.keyid, private_key=load_private_key(args.key_file))
        if args.command == "push":
            return push(session, args)
        if args.command == "status":
            return status(session, args)
        if args.command == "rejections":
            return rejections(session, args)
        if args.command == "receipt":
            token, payload = session.receipt(args.batch)
            print(token)
            _print(payload)
        elif args.command == "subject":
            _print(session.request("GET", f"subjects/{quote(args.code, safe='')}", params=_paging(args) or None).json())
        elif args.command == "lookup":
            return lookup(session, args)
        elif args.command in ("objections", "repairs"):
            return listing(session, args.command, args.status)
        elif args.command in ("decide-objection", "decide-repair"):
            return decide(session, args.command.removeprefix("decide-") + "s", args)
        elif args.command == "changes":
            params = {k: v for k, v in {"category": args.category, "cursor": args.cursor, "limit": args.limit}.items() if v}
            _print(session.request("GET", "changes", params=params).json())
        return 0
    except ExchangeError as exc:
        print(f"credit-exchange: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
