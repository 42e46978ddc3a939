"""The engine behind the API: the active model and rule set, the industry benchmarks and
the merchant data source, and every model and rule-set version on disk for replays.

Loading fails with the reason (a missing model, a rule set that fails its check, no
benchmarks); the app then reports not ready instead of serving.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import polars as pl

from api import store
from api.batching import Batcher
from api.settings import Settings
from underwriting.applications import Application, Prepared
from underwriting.contract.tables import CASHFLOW, INDUSTRY_BENCHMARKS, MERCHANTS, TRAFFIC, Table
from underwriting.decision import DECIDED, Decision
from underwriting.engine import Engine
from underwriting.errors import InputError, PolicyError
from underwriting.io.artifacts import load_model
from underwriting.io.data_folder import DataFolder, Lookup
from underwriting.io.rule_sets import check_rule_set, load_override_reasons, load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.rules import RuleSet


class UnknownMerchant(LookupError):
    """No profile with this merchant_id in the data source."""


@dataclass(frozen=True)
class ById:
    """A request to decide a merchant looked up in the data source."""

    merchant_id: str
    as_of: dt.date
    requested_amount: float | None = None


class Decided(NamedTuple):
    """A request's decision input, its decision, its input rows that failed validation,
    and its features (one row: what the shadow challenger decides again)."""

    input: dict[str, Any]
    decision: Decision
    quarantine: pl.DataFrame
    features: pl.DataFrame


class VersionUnavailable(LookupError):
    """A recorded model or rule-set version is no longer on disk."""


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready dicts: dates as ISO text, formatted by polars."""
    rows = _dates_as_text(frame).to_dicts()
    if any(isinstance(dtype, pl.Datetime) for dtype in frame.dtypes):
        rows = [_plain(row) for row in rows]  # datetimes: ISO text as Python writes it
    return rows


def _dates_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    dates = [name for name, dtype in frame.schema.items() if dtype == pl.Date()]
    return frame.with_columns(pl.col(dates).dt.to_string("%Y-%m-%d")) if dates else frame


_PLAIN_TEXT = r"[ !#-\[\]-~]*"
"""Printable ASCII but the quote and the backslash: text JSON writes as it is."""


def _json_lists(frame: pl.DataFrame) -> dict[str, store.Encoded] | None:
    """Each merchant's rows as the JSON list `store.canonical_json` writes for their dicts
    (`_rows`), written by polars, at a fraction of the cost. None when polars might write a
    value otherwise: a name or text beyond `_PLAIN_TEXT`, a float that is not finite or
    is below 1e-4 in size (Python writes those as NaN or in exponent form), or a type
    other than text, dates, floats, integers and booleans (tests/api/test_service.py
    holds the two equal)."""
    texted = _dates_as_text(frame)
    if not all(re.fullmatch(_PLAIN_TEXT, name) for name in texted.columns):
        return None
    writable = []
    for name, dtype in texted.schema.items():
        column = pl.col(name)
        if dtype == pl.String():
            writable.append(column.str.contains(f"^{_PLAIN_TEXT}$"))
        elif dtype == pl.Float64():
            writable.append((column == 0) | (column.is_finite() & (column.abs() >= 1e-4)))
        elif not (dtype.is_integer() or dtype == pl.Boolean()):
            return None
    if writable and texted.height:
        every = pl.all_horizontal(w.fill_null(True) for w in writable).all()
        if not texted.select(every).item():
            return None
    rows = pl.struct(sorted(texted.columns)).struct.json_encode().str.join(",")
    lists = texted.group_by("merchant_id", maintain_order=True).agg(rows)
    return {str(m): store.Encoded(b"[%s]" % text.encode()) for m, text in lists.iter_rows()}


def _by_merchant(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """A frame's rows split by merchant_id, in their order."""
    return {str(k[0]): part for k, part in frame.partition_by("merchant_id", as_dict=True).items()}


def _frame(table: Table, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as they arrived (JSON values) as a frame of the contract's column types."""
    schema = table.schema
    dates = [name for name, dtype in schema.items() if dtype == pl.Date()]
    as_text = {name: (pl.String() if name in dates else dtype) for name, dtype in schema.items()}
    frame = pl.DataFrame(rows, schema=as_text, strict=False)
    return frame.with_columns(pl.col(dates).str.to_date("%Y-%m-%d"))


def _round_trips(table: Table, frame: pl.DataFrame) -> bool:
    """Whether `_frame(table, _rows(frame))`, and so a replay of the stored input, gives
    back `frame`'s contract columns exactly: when each is there with the contract's type.
    Floats (NaN and infinities too), integers and text are JSON values as they are, and
    polars writes and reads back every date (tests/api/test_service.py holds it)."""
    return all(frame.schema.get(name) == dtype for name, dtype in table.schema.items())


@dataclass(frozen=True)
class Found:
    """A merchant looked up in the data source: its decision input as stored (JSON values;
    daily rows may be JSON text already, `store.Encoded`) and, when they survive the JSON
    round trip unchanged (`_round_trips`), its rows in the contract's types, which spare
    the decision that trip."""

    input: dict[str, Any]
    frames: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame] | None


def application_from_input(stored: dict[str, Any]) -> tuple[Application, pl.DataFrame]:
    """The Application and benchmark row a stored decision input holds."""
    as_of = dt.date.fromisoformat(stored["as_of"])
    application = Application(
        _frame(MERCHANTS, [stored["merchant"]]),
        _frame(CASHFLOW, stored["cashflow"]),
        _frame(TRAFFIC, stored["traffic"]),
        as_of,
    )
    return application, _frame(INDUSTRY_BENCHMARKS, [stored["benchmark"]])


@dataclass
class Service:
    """Loaded once per worker; decisions are pure functions of its parts and the input."""

    settings: Settings
    engine: Engine
    merchants: Lookup  # the data source, opened once
    data_fingerprint: str
    data_end: dt.date | None = None
    """The last day of the data source's cash flow: by-id decisions default to the day after."""
    challenger: Engine | None = None
    """The shadow challenger (`api.shadow`), when one is configured."""
    reasons: tuple[str, ...] = ()
    """The override reasons a review may give (the rule set's review.toml)."""
    _engines: dict[tuple[str, str], Engine] = field(default_factory=dict)
    _batcher: Batcher[ById | dict[str, Any], Decided] = field(init=False)

    def __post_init__(self) -> None:
        self._batcher = Batcher(self._decide_many, name="decisions", linger=0.5)

    @classmethod
    def load(cls, settings: Settings) -> Service:
        model = load_model(settings.model)
        rules = load_rule_set(settings.rules)
        folder = DataFolder(settings.data)
        lookup = folder.lookup(in_memory_rows=settings.lookup_rows_in_memory)
        engine = Engine(model, rules, lookup.benchmarks)
        challenger = None
        if settings.challenger_rules is not None:
            challenger_model = (
                load_model(settings.challenger_model) if settings.challenger_model else model
            )
            challenger_rules = load_rule_set(settings.challenger_rules)
            challenger = Engine(challenger_model, challenger_rules, lookup.benchmarks)
        fingerprint = folder.fingerprint()[:16]
        reasons = load_override_reasons(settings.rules)
        return cls(settings, engine, lookup, fingerprint, folder.last_day(), challenger, reasons)

    def benchmark_row(self, industry_code: str) -> dict[str, Any]:
        """The industry's benchmark row, stored with each decision's input."""
        found = self._benchmark_rows.get(industry_code)
        if found is None:
            raise InputError(
                f"merchant.industry_code: unknown industry code {industry_code}; "
                "it has no row in industry_benchmarks"
            )
        return dict(found)

    @cached_property
    def _benchmark_rows(self) -> dict[str, dict[str, Any]]:
        """Each industry's first benchmark row, as stored: read once, not per request."""
        table = self.engine.benchmarks
        assert table is not None
        rows: dict[str, dict[str, Any]] = {}
        for row in _rows(table):
            rows.setdefault(str(row["industry_code"]), row)
        return rows

    def versions(self) -> dict[str, Any]:
        return {
            "model_version": self.engine.model.version,
            "rule_set_version": self.engine.rules.version,
            "model_path": str(self.settings.model),
            "rule_set_path": str(self.settings.rules),
            "data_source": str(self.settings.data),
            "data_fingerprint": self.data_fingerprint,
            "challenger": None
            if self.challenger is None
            else {
                "model_version": self.challenger.model.version,
                "rule_set_version": self.challenger.rules.version,
                "model_path": str(self.settings.challenger_model or self.settings.model),
                "rule_set_path": str(self.settings.challenger_rules),
            },
        }

    def lookup_many(self, merchant_ids: Sequence[str]) -> dict[str, Found | InputError]:
        """The input rows of each merchant found in the data source (profile, cash flow,
        traffic, benchmark), read in one scan; unknown merchants are left out, and one
        whose industry has no benchmark row gets that InputError."""
        rows, conflicts = self.merchants.rows(merchant_ids)
        found, cashflow, traffic = rows.merchants, rows.cashflow, rows.traffic
        tables = ((MERCHANTS, found), (CASHFLOW, cashflow), (TRAFFIC, traffic))
        frames = None
        if all(_round_trips(table, frame) for table, frame in tables):
            frames = [_by_merchant(frame.select(table.schema.keys())) for table, frame in tables]
        # With the frames, the decision does not read the stored input's daily rows back,
        # so polars may write them as JSON text; without, they are dicts to read back.
        daily = [_daily_inputs(frame, frames is not None) for frame in (cashflow, traffic)]
        no_days = (
            cashflow.clear().select(CASHFLOW.schema.keys()),
            traffic.clear().select(TRAFFIC.schema.keys()),
        )
        inputs: dict[str, Found | InputError] = dict(conflicts)
        for merchant in _rows(found):
            merchant_id = str(merchant["merchant_id"])
            try:
                benchmark = self.benchmark_row(str(merchant["industry_code"]))
            except InputError as error:
                inputs[merchant_id] = error
                continue
            stored = {
                "merchant": merchant,
                "cashflow": daily[0].get(merchant_id, []),
                "traffic": daily[1].get(merchant_id, []),
                "benchmark": benchmark,
            }
            mine = None
            if frames is not None:
                kept, cash, shop = frames
                mine = (
                    kept[merchant_id],
                    cash.get(merchant_id, no_days[0]),
                    shop.get(merchant_id, no_days[1]),
                )
            inputs[merchant_id] = Found(stored, mine)
        return inputs

    def decide(self, request: ById | dict[str, Any]) -> Decided:
        """The decision for a request (a merchant to look up, or a decision input): its
        input, the decision and the input rows that failed validation. Decided together
        with the other requests waiting in this worker (`api.batching`): the decision
        `decide_alone` gives, sooner under load; by-id requests are looked up together."""
        key = (
            request.merchant_id if isinstance(request, ById) else request["merchant"]["merchant_id"]
        )
        return self._batcher.submit(request, str(key))

    def _decide_many(
        self, requests: Sequence[ById | dict[str, Any]]
    ) -> list[Decided | BaseException]:
        """`decide` for several requests of distinct merchants, in one engine call."""
        ids = [r.merchant_id for r in requests if isinstance(r, ById)]
        found = self.lookup_many(ids) if ids else {}
        inputs: list[dict[str, Any] | None] = []
        applications: list[Application | BaseException] = []
        for request in requests:
            given: dict[str, Any] | None = None
            application: Application | BaseException
            if not isinstance(request, ById):
                given, application = request, _application(request)
            else:
                entry = found.get(request.merchant_id)
                if entry is None:
                    application = UnknownMerchant(request.merchant_id)
                elif isinstance(entry, InputError):
                    application = entry
                else:
                    given, application = _by_id(request, entry)
            inputs.append(given)
            applications.append(application)
        prepared = iter(
            self.engine.prepare_many([a for a in applications if isinstance(a, Application)])
        )
        ready = [next(prepared) if isinstance(a, Application) else a for a in applications]
        features = [p.features for p in ready if isinstance(p, Prepared)]
        rows = (
            {
                r["merchant_id"]: r
                for r in self.engine.decide_frame(pl.concat(features)).iter_rows(named=True)
            }
            if features
            else {}
        )
        results: list[Decided | BaseException] = []
        for given, outcome in zip(inputs, ready, strict=True):
            if isinstance(outcome, Prepared):
                assert given is not None
                decision = Decision.from_row(rows[outcome.features["merchant_id"][0]])
                results.append(Decided(given, decision, outcome.quarantine, outcome.features))
            else:
                results.append(outcome)
        return results

    def decide_alone(
        self, inputs: dict[str, Any], engine: Engine | None = None
    ) -> tuple[Decision, pl.DataFrame]:
        """The decision for a decision input, and its input rows that failed validation,
        by itself (replays use it, with the recorded versions' engine)."""
        application, benchmark = application_from_input(inputs)
        base = engine or self.engine
        engine = Engine(base.model, base.rules, benchmark)
        prepared = engine.prepare(application)
        decision = Decision.from_row(engine.decide_frame(prepared.features).row(0, named=True))
        return decision, prepared.quarantine

    def replay(
        self, inputs: dict[str, Any], recorded: dict[str, Any]
    ) -> tuple[Decision, dict[str, dict[str, Any]]]:
        """A recorded decision (as stored) made again from its stored input with its
        recorded versions, and the decided fields that differ. VersionUnavailable when a
        version is no longer on disk."""
        engine = self.engine_for(recorded["model_version"], recorded["rule_set_version"])
        replayed, _ = self.decide_alone(inputs, engine)
        return replayed, differences(recorded, replayed)

    def engine_for(self, model_version: str, rule_set_version: str) -> Engine:
        """The engine of recorded versions, from the models and rules folders."""
        key = (model_version, rule_set_version)
        if key == (self.engine.model.version, self.engine.rules.version):
            return self.engine
        challenger = self.challenger
        if challenger is not None and key == (challenger.model.version, challenger.rules.version):
            return challenger
        if key not in self._engines:
            model = self._models.get(model_version)
            if model is None:
                raise VersionUnavailable(
                    f"model {model_version} is not in {self.settings.models_dir}"
                )
            rules = self._rule_sets.get(rule_set_version)
            if rules is None:
                raise VersionUnavailable(
                    f"rule set {rule_set_version} is not in {self.settings.rules_root}"
                )
            self._engines[key] = Engine(model, rules)
        return self._engines[key]

    @cached_property
    def _models(self) -> dict[str, Scorecard]:
        found = {}
        for path in sorted(self.settings.models_dir.glob("*.json")):
            try:
                model = load_model(path)
            except (InputError, PolicyError, ValueError):
                continue  # not a model artifact, or an edited one: never used for replay
            found[model.version] = model
        return found

    @cached_property
    def _rule_sets(self) -> dict[str, RuleSet]:
        found = {}
        for folder in sorted(p for p in self.settings.rules_root.iterdir() if p.is_dir()):
            _, rule_set = check_rule_set(folder)
            if rule_set is not None:
                found[rule_set.version] = rule_set
        return found


def _application(given: dict[str, Any]) -> Application | InputError:
    try:
        return application_from_input(given)[0]
    except (InputError, ValueError, pl.exceptions.PolarsError) as error:
        return InputError(f"the decision input cannot be read: {error}")


def _by_id(request: ById, found: Found) -> tuple[dict[str, Any], Application | InputError]:
    """A looked-up merchant's decision input for `request`, and its application: from the
    looked-up frames when they have them (the same frames the stored input reads back
    as), else read from the input as a replay reads it."""
    merchant = dict(found.input["merchant"])  # the looked-up rows are shared, not copied
    if request.requested_amount is not None:
        merchant["requested_amount"] = request.requested_amount
    given = {"as_of": request.as_of.isoformat(), **found.input, "merchant": merchant}
    if found.frames is None:
        return given, _application(given)
    profile, cashflow, traffic = found.frames
    if request.requested_amount is not None:
        amount = pl.lit(request.requested_amount, dtype=MERCHANTS.schema["requested_amount"])
        profile = profile.with_columns(amount.alias("requested_amount"))
    return given, Application(profile, cashflow, traffic, request.as_of)


def _daily_inputs(
    frame: pl.DataFrame, as_text: bool
) -> dict[str, list[dict[str, Any]] | store.Encoded]:
    """Each merchant's rows of a daily table as its stored input holds them: JSON text
    written by polars when `as_text` and `_json_lists` can, else dicts. Either is made for
    the whole table in one call and split by merchant after: polars costs about as much
    per call on one merchant's rows as on a batch's."""
    texted = _dates_as_text(frame)
    if as_text:
        lists = _json_lists(texted)
        if lists is not None:
            return dict(lists)
    return {m: _rows(part) for m, part in _by_merchant(texted).items()}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with JSON-ready values (dates and times as ISO text)."""
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}


def differences(recorded: dict[str, Any], replayed: Decision) -> dict[str, dict[str, Any]]:
    """The decided fields (`underwriting.decision.DECIDED`) that differ between a recorded
    decision (as stored, JSON values) and a replayed one."""
    now = replayed.model_dump(mode="json", include=set(DECIDED))
    return {
        name: {"recorded": recorded.get(name), "replayed": now[name]}
        for name in DECIDED
        if recorded.get(name) != now[name]
    }
