"""The officers' reviews of referrals, read from the API's store for the validation pack.

Read by table and column name with plain SQL (the store's schema is the API's; this reads
the referrals in `decisions` and their rows in `reviews`, and writes nothing), so a
validator can point it at the production database or a copy.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from underwriting.errors import InputError

REFERRALS = sa.text(
    "SELECT d.id AS decision_id, d.grade, d.loan_limit AS engine_limit, d.model_version, "
    "d.rule_set_version, r.outcome AS review_outcome, r.loan_limit AS review_limit, r.reason "
    "FROM decisions d LEFT JOIN reviews r ON r.decision_id = d.id WHERE d.outcome = 'refer'"
)
SCHEMA = pl.Schema(
    {
        "decision_id": pl.String(),
        "grade": pl.String(),
        "engine_limit": pl.Int64(),
        "model_version": pl.String(),
        "rule_set_version": pl.String(),
        "review_outcome": pl.String(),
        "review_limit": pl.Int64(),
        "reason": pl.String(),
    }
)


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "the URL given"


def read_referrals(url: str) -> pl.DataFrame:
    """Every referral in the store at `url`, with its review if it has one (`SCHEMA`).
    Raises InputError naming the fix when the URL is not a database or not the API's."""
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
        raise InputError(
            f"--database {shown_url(url)}: not a database URL ({error}); give one such as "
            "sqlite:///data/underwriting.db or postgresql+psycopg://user@host/db"
        ) from None
    try:
        with engine.connect() as connection:
            rows = connection.execute(REFERRALS).all()
    except sa.exc.OperationalError as error:
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise InputError(
            f"--database {shown_url(url)}: cannot read the referrals ({first}); give the API's "
            "database (it has the decisions and reviews tables: `underwrite db upgrade` makes "
            "them)"
        ) from None
    except sa.exc.ProgrammingError as error:
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise InputError(
            f"--database {shown_url(url)}: not the API's store ({first}); run `underwrite db "
            "upgrade` against it, or give the API's database"
        ) from None
    finally:
        engine.dispose()
    return pl.DataFrame([tuple(r) for r in rows], schema=SCHEMA, orient="row")
