"""The `underwrite` command with the API's commands added: `db upgrade`, `keys create |
revoke | list` and `serve`. (The engine's commands live in `underwriting.cli`, which
knows nothing of the API.)"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from api import migrate, store
from api.settings import Settings
from underwriting import cli as engine_cli


def _database(args: argparse.Namespace) -> str:
    url: str = args.database or Settings.from_environment().database_url
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return url


def _run_db_upgrade(args: argparse.Namespace) -> int:
    engine = store.connect(_database(args))
    before = migrate.current(engine)
    migrate.upgrade(engine)
    after = migrate.current(engine)
    print(f"database {engine.url.render_as_string(hide_password=True)}: schema {before} -> {after}")
    return 0


def _run_keys_create(args: argparse.Namespace) -> int:
    engine = store.connect(_database(args))
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
    if store.revoke_key(store.connect(_database(args)), args.key_id):
        print(f"revoked {args.key_id}")
        return 0
    print(f"error: no active key {args.key_id}", file=sys.stderr)
    return 1


def _run_keys_list(args: argparse.Namespace) -> int:
    for key in store.list_keys(store.connect(_database(args))):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.id}  {key.role:8} {state:24} {key.label}")
    return 0


def worker_environment(workers: int) -> dict[str, str]:
    """What the environment of `workers` serving processes adds, unless it is set: each
    worker's polars gets its share of the cores (a decision's queries are small, and a
    worker spreading them over every core only makes the workers contend)."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {} if "POLARS_MAX_THREADS" in os.environ else {"POLARS_MAX_THREADS": share}


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    url = _database(args)
    os.environ["UW_DATABASE_URL"] = url
    os.environ.update(worker_environment(args.workers))
    migrate.upgrade(store.connect(url))
    base = f"http://{args.host}:{args.port}"
    print(
        f"Serving the underwriting API on {base} (docs: {base}/docs). Try:\n"
        f"  curl -s -X POST {base}/v1/decisions -H 'Authorization: Bearer <officer key>' \\\n"
        "       -H 'Content-Type: application/json' -H 'Idempotency-Key: first-try' \\\n"
        '       -d \'{"merchant_id": "M00000001", "as_of": "2026-10-01"}\'',
        flush=True,
    )
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
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
    database(serve)
    serve.set_defaults(run=_run_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """`underwrite`: the engine's commands and the API's."""
    return engine_cli.main(argv, extend=add_commands)


if __name__ == "__main__":
    sys.exit(main())
