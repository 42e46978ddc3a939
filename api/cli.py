"""The `underwrite` command with the API's commands added: `db upgrade`, `keys create |
revoke | list` and `serve`. (The engine's commands live in `underwriting.cli`, which
knows nothing of the API.)"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from api import migrate, store
from api.settings import Settings
from underwriting import cli as engine_cli
from underwriting.errors import UnderwritingError


class StoreNotReady(UnderwritingError):
    """The decision store cannot be used as it is: not reachable, or not migrated."""


def _database(args: argparse.Namespace) -> str:
    url: str = args.database or Settings.from_environment().database_url
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return url


def _shown(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _unreachable(url: str, error: sa.exc.OperationalError) -> str:
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return (
        f"cannot reach the database {_shown(url)} ({reason}); check it is running and the "
        "URL (--database or UW_DATABASE_URL)"
    )


@contextmanager
def _migrated_store(args: argparse.Namespace) -> Iterator[sa.Engine]:
    """The store at `--database`, checked: reachable and at the newest schema (closed on
    leaving)."""
    url = _database(args)
    engine = store.connect(url)
    try:
        found = migrate.current(engine)
    except sa.exc.OperationalError as error:
        engine.dispose()
        raise StoreNotReady(_unreachable(url, error)) from None
    newest = migrate.head()
    if found != newest:
        engine.dispose()
        raise StoreNotReady(
            f"the database {_shown(url)} is at schema {found or 'none (never migrated)'}, not "
            f"{newest}; run: underwrite db upgrade --database {_shown(url)}"
        )
    try:
        yield engine
    finally:
        engine.dispose()


def _run_db_upgrade(args: argparse.Namespace) -> int:
    engine = store.connect(_database(args))
    try:
        before = migrate.current(engine)
    except sa.exc.OperationalError as error:
        engine.dispose()
        raise StoreNotReady(_unreachable(_database(args), error)) from None
    try:
        migrate.upgrade(engine)
        after = migrate.current(engine)
    finally:
        engine.dispose()
    print(f"database {engine.url.render_as_string(hide_password=True)}: schema {before} -> {after}")
    return 0


def _run_keys_create(args: argparse.Namespace) -> int:
    with _migrated_store(args) as engine:
        if args.if_none and any(
            k.role == args.role and k.revoked_at is None for k in store.list_keys(engine)
        ):
            print(f"an active {args.role} key exists already; none created")
            return 0
        key, secret = store.create_key(engine, args.role, args.label)
    print(f"created {key.role} key {key.id} ({key.label}); its secret, shown only now:")
    print(f"  {secret}")
    return 0


def _run_keys_revoke(args: argparse.Namespace) -> int:
    try:
        with _migrated_store(args) as engine:
            revoked = store.revoke_key(engine, args.key_id)
    except store.LastAdminKey:
        raise StoreNotReady(
            f"{args.key_id} is the last active admin key; create another admin key first "
            "(underwrite keys create --role admin)"
        ) from None
    if revoked:
        print(f"revoked {args.key_id}")
        return 0
    print(f"error: no active key {args.key_id}", file=sys.stderr)
    return 1


def _run_keys_list(args: argparse.Namespace) -> int:
    with _migrated_store(args) as engine:
        keys = store.list_keys(engine)
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.id}  {key.role:8} {state:24} {key.label}")
    return 0


def worker_environment(workers: int) -> dict[str, str]:
    """What the environment of `workers` serving processes adds, unless it is set: each
    worker's polars gets its share of the cores (a decision's queries are small, and a
    worker spreading them over every core only makes the workers contend)."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {} if "POLARS_MAX_THREADS" in os.environ else {"POLARS_MAX_THREADS": share}


WORKER_HEALTHCHECK_SECONDS = 60
"""How long a worker may take to answer its supervisor: starting one imports the engine
and opens the data source, which on a busy machine can take far longer than uvicorn's
default of 5 s, after which it kills the worker and starts another, in a loop."""


def banner(base: str, key: str | None) -> str:
    """What `serve` prints once the API answers: where it is and a curl to paste."""
    if key:
        setting = f"  export UW_KEY='{key}'   # an officer key"
    else:
        setting = (
            "  # first set UW_KEY to an officer key (underwrite keys create --role officer "
            "prints one):\n  export UW_KEY=..."
        )
    return (
        f"Serving the underwriting API on {base} (docs: {base}/docs).\n"
        f"Loan officers' workbench: open {base}/workbench/ in a browser and sign in with the "
        "key.\nOr try the API:\n"
        f"{setting}\n"
        f'  curl -s -X POST {base}/v1/decisions -H "Authorization: Bearer $UW_KEY" \\\n'
        "       -H 'Content-Type: application/json' -H 'Idempotency-Key: first-try' \\\n"
        '       -d \'{"merchant_id": "M00000001", "as_of": "2026-10-01"}\''
    )


def _announce_when_ready(base: str, text: str, stop: threading.Event) -> None:
    """Print `text` once `base`/readyz answers 200; say so if that takes a while."""
    started, warned = time.monotonic(), False
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    print(text, flush=True)
                    return
        except OSError:  # refused, not ready (503), or slow: try again
            pass
        if not warned and time.monotonic() - started > 30:
            print(
                f"still starting after 30 s (a busy machine?); {base}/readyz says why, and "
                "the address is printed once it answers",
                file=sys.stderr,
                flush=True,
            )
            warned = True
        stop.wait(0.25)


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    url = _database(args)
    os.environ["UW_DATABASE_URL"] = url
    if args.challenger_rules is not None:
        os.environ["UW_CHALLENGER_RULES"] = str(args.challenger_rules)
    if args.challenger_model is not None:
        os.environ["UW_CHALLENGER_MODEL"] = str(args.challenger_model)
    os.environ.update(worker_environment(args.workers))
    try:
        migrate.upgrade(store.connect(url))
    except sa.exc.OperationalError as error:
        raise StoreNotReady(_unreachable(url, error)) from None
    base = f"http://{args.host}:{args.port}"
    print(f"Starting the underwriting API on {base} ({args.workers} workers) ...", flush=True)
    challenger = os.environ.get("UW_CHALLENGER_RULES")
    if challenger:
        model = os.environ.get("UW_CHALLENGER_MODEL") or "the live model"
        print(
            f"  shadow challenger: rule set {challenger} with {model}; every decision is also "
            "made with it and stored beside, never answered (GET /v1/shadow)",
            flush=True,
        )
    stop = threading.Event()
    threading.Thread(
        target=_announce_when_ready,
        args=(base, banner(base, os.environ.get("UW_KEY")), stop),
        daemon=True,
    ).start()
    try:
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",  # worker restarts are logged at info: the user must see them
            access_log=False,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    finally:
        stop.set()
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add db, keys and serve to the `underwrite` command."""

    def database(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--database", help="database URL (default: UW_DATABASE_URL or the SQLite file)"
        )

    db = commands.add_parser("db", help="the decision store's schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate the database to the newest schema")
    database(upgrade)
    upgrade.set_defaults(run=_run_db_upgrade)

    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key; its secret is printed once")
    create.add_argument("--role", choices=store.ROLES, required=True)
    create.add_argument("--label", default="created from the command line")
    create.add_argument(
        "--if-none", action="store_true", help="only if no active key of the role exists"
    )
    database(create)
    create.set_defaults(run=_run_keys_create)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    database(revoke)
    revoke.set_defaults(run=_run_keys_revoke)
    listing = key_commands.add_parser("list", help="every key, never a secret")
    database(listing)
    listing.set_defaults(run=_run_keys_list)

    serve = commands.add_parser("serve", help="serve the scoring API (migrates the database)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument(
        "--challenger-rules",
        type=Path,
        help="a shadow challenger rule set: every decision is also made with it and stored "
        "beside, never answered (also UW_CHALLENGER_RULES)",
    )
    serve.add_argument(
        "--challenger-model",
        type=Path,
        help="the shadow challenger's model (default: the live model; also UW_CHALLENGER_MODEL)",
    )
    database(serve)
    serve.set_defaults(run=_run_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """`underwrite`: the engine's commands and the API's."""
    return engine_cli.main(argv, extend=add_commands)


if __name__ == "__main__":
    sys.exit(main())
