"""`underwrite`: the command line of the underwriting engine."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import polars as pl
from tqdm import tqdm

from underwriting.applications import Application, prepare_with_cashflow
from underwriting.batch.feature_table import FeatureBuild, build_feature_table
from underwriting.batch.rescore import LocalRunner, rescore
from underwriting.batch.spark import SparkRunner
from underwriting.decision import Decision
from underwriting.engine import Engine
from underwriting.errors import InputError, PolicyError, UnderwritingError
from underwriting.features.registry import FEATURES, feature_schema
from underwriting.io.artifacts import load_model, save_model
from underwriting.io.data_folder import BookAsOf, DataFolder, reading
from underwriting.io.rule_sets import (
    check_rule_set,
    load_examples,
    load_invariants,
    load_policy,
    load_rule_set,
)
from underwriting.model.reasons import columns_needed, with_reason_texts
from underwriting.model.scoring import score
from underwriting.policy.examples import FILE as EXAMPLES_FILE
from underwriting.policy.examples import (
    coverage_warnings,
    example_features,
    failures,
    firing_warnings,
)
from underwriting.policy.invariants import search, with_book
from underwriting.reports.charts import text_band_chart
from underwriting.reports.merchant import band_points, merchant_report, sales_against_industry
from underwriting.simulate.book import SimulationConfig, simulate


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _as_of(text: str) -> BookAsOf:
    return "outcomes" if text == "outcomes" else _date(text)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive whole number")
    return value


def _run_simulate(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        merchants=args.merchants,
        as_of=args.as_of,
        days=args.days,
        cohorts=args.cohorts,
        seed=args.seed,
        full_history=args.full_history,
    )
    started = time.perf_counter()
    with tqdm(total=config.merchants, unit="merchant", desc="simulating", file=sys.stderr) as bar:
        counts = simulate(config, args.out, progress=lambda n: bar.update(n))
    elapsed = time.perf_counter() - started
    print(f"Wrote a simulated book to {args.out} in {elapsed:.1f} s:")
    for table, rows in counts.items():
        print(f"  {table:<20} {rows:>14,} rows")
    print("  ground_truth.parquet holds each merchant's true PD (for oracle AUC)")
    return 0


def print_build(build: FeatureBuild) -> None:
    """Print a feature build's counts: rows in = kept + quarantined + after the as-of
    date (set aside, not used), per table."""
    print(f"{'table':<20} {'rows in':>14} {'kept':>14} {'quarantined':>12} {'after as-of':>14}")
    for name, c in build.counts.items():
        mark = "" if c.adds_up else "  <- does not add up"
        print(
            f"{name:<20} {c.rows_in:>14,} {c.kept:>14,} {c.quarantined:>12,} "
            f"{c.after_as_of:>14,}{mark}"
        )
    print(f"Features of {build.merchants_scored:,} merchants -> {build.features}")
    held = sum(c.quarantined for c in build.counts.values())
    if held:
        print(f"{held:,} quarantined rows with table, key, field and reason -> {build.quarantine}")
        kinds = (
            pl.scan_parquet(build.quarantine)
            .group_by("table", "field", maintain_order=True)
            .agg(pl.len().alias("rows"), pl.first("key"), pl.first("reason"))
            .collect()
        )
        print("By table and field, with the first example of each:")
        for row in kinds.iter_rows(named=True):
            print(f"  {row['table']}.{row['field']}: {row['rows']:,} row(s), e.g. [{row['key']}]")
            print(f"      {row['reason']}")


def print_summary(features: pl.DataFrame) -> None:
    """Print each numeric feature's spread and share missing, with its unit and meaning."""
    print(f"\n{'feature':<28} {'unit':<10} {'p10':>11} {'median':>11} {'p90':>11} {'missing':>8}")
    for feature in FEATURES:
        column = features.get_column(feature.name)
        if not column.dtype.is_numeric():
            continue
        p10, median, p90 = (column.quantile(q, "nearest") for q in (0.1, 0.5, 0.9))
        missing = column.null_count() / max(features.height, 1)
        style = (
            ",.0f" if feature.unit in {"currency", "days", "visits", "months", "tier"} else ".4g"
        )
        cells = " ".join(
            f"{'—':>11}" if v is None else f"{v:>11{style}}" for v in (p10, median, p90)
        )
        print(f"{feature.name:<28} {feature.unit:<10} {cells} {missing:>8.0%}")
    print("Meanings of every feature: docs/features.md")


def _run_features(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with tqdm(unit="merchant", desc="features", file=sys.stderr) as bar:
        build = build_feature_table(
            args.data,
            args.as_of,
            args.out,
            quarantine_out=args.quarantine,
            chunk_merchants=args.chunk,
            progress=lambda n: bar.update(n),
        )
    print_build(build)
    if args.summary:
        print_summary(pl.read_parquet(build.features))
    print(f"Done in {time.perf_counter() - started:.1f} s")
    return 0 if build.adds_up else 3


def _one_merchant(args: argparse.Namespace, purpose: str) -> tuple[Application, pl.DataFrame]:
    """One merchant's rows from --data as the files hold them, and the benchmarks."""
    lookup = DataFolder(args.data).lookup()
    found, conflicts = lookup.rows([args.merchant])
    if args.merchant in conflicts:
        raise conflicts[args.merchant]
    if found.merchants.is_empty():
        raise InputError(
            f"merchants: merchant {args.merchant} cannot be {purpose}: no such merchant_id"
        )
    application = Application(found.merchants, found.cashflow, found.traffic, args.as_of)
    return application, lookup.benchmarks


def _run_report_merchant(args: argparse.Namespace) -> int:
    application, benchmarks = _one_merchant(args, "reported")
    prepared, cashflow = prepare_with_cashflow(application, benchmarks)
    features = prepared.features.row(0, named=True)
    industry = features["industry_code"]
    benchmark = benchmarks.filter(pl.col("industry_code") == industry).row(0, named=True)
    periods = sales_against_industry(cashflow.lazy(), benchmark, args.as_of)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(merchant_report(features, periods, benchmark, prepared.quarantine))
    print(f"Wrote {args.out}: open it in any browser (it needs no network).")
    return 0


def _read_table(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise InputError(f"{path}: no such file; give a Parquet or CSV table")
    if path.suffix.lower() == ".csv":
        return pl.read_csv(path, infer_schema_length=10_000)
    return pl.read_parquet(path)


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _allowed_protected(columns: list[str], reason: str | None) -> tuple[tuple[str, str], ...]:
    if columns and not (reason and reason.strip()):
        raise InputError(
            "--allow-protected needs --reason TEXT: why the law allows this attribute in the "
            "model (it is recorded in the artifact and the model report)"
        )
    return tuple((c, (reason or "").strip()) for c in columns)


def _run_train(args: argparse.Namespace) -> int:
    from underwriting.model.training import TrainingOptions, train  # statsmodels: only here

    policy, policy_version = load_policy(args.rules)
    frame = _read_table(args.data)
    options = TrainingOptions(
        target=args.target,
        features=tuple(args.features) if args.features else None,
        exclude=tuple(args.exclude),
        date_column=args.date_column or None,
        out_of_time=args.out_of_time,
        seed=args.seed,
        bad_value=args.bad,
        good_value=args.good,
        allow_protected=_allowed_protected(args.allow_protected, args.reason),
        declared_protected=tuple(args.protected),
        refit_all=args.refit_all,
        keys=tuple(args.key) if args.key else None,
    )
    started = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    model = train(frame, options, policy, policy_version, _fingerprint(args.data), progress=step)
    save_model(model, args.out)
    print(f"Model {model.version} -> {args.out} ({time.perf_counter() - started:.1f} s)")
    print(f"target {model.training.target!r}: bad = {model.training.split['bad_value']!r}")
    print(f"{'part':<12} {'rows':>9} {'bads':>7} {'AUC':>7} {'Gini':>7} {'KS':>7} {'Brier':>8}")
    for part, m in model.training.metrics.items():
        print(
            f"{part:<12} {m.rows:>9,} {m.bads:>7,} {m.auc:>7.4f} {m.gini:>7.4f} {m.ks:>7.4f} {m.brier:>8.5f}"
        )
    print(f"\n{'feature':<28} {'coef':>7} {'s.e.':>7} {'p':>8} {'IV':>7}  bins")
    for f in model.features:
        bins = len(f.binning.woe)
        print(
            f"{f.name:<28} {f.coefficient:>7.3f} {f.std_error:>7.3f} {f.p_value:>8.2g} {f.information_value:>7.3f}  {bins}"
        )
    if model.dropped:
        print(f"\nDropped {len(model.dropped)} candidate(s):")
        for d in model.dropped:
            print(f"  {d.feature}: {d.reason}")
    for column, reason in model.training.protected_allowed.items():
        print(f"\nProtected attribute {column!r} allowed as a feature (never a reason): {reason}")
    for warning in model.training.warnings:
        print(f"\nWarning: {warning}")
    return 0


def _run_score(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    policy, policy_version = load_policy(args.rules)
    features = _read_table(args.features)
    started = time.perf_counter()
    scored = score(model, policy, features)
    context = features.select(c for c in columns_needed(model) if c in features.columns)
    explained = with_reason_texts(
        pl.concat([scored, context], how="horizontal"),
        model,
        "reasons",
        "reason_texts",
        available=context.columns,
    )
    result = explained.select(
        *scored.columns,
        "reason_texts",
        pl.lit(model.version).alias("model_version"),
        pl.lit(policy_version).alias("policy_version"),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.write_parquet(args.out)
    elapsed = time.perf_counter() - started
    print(
        f"Scored {result.height:,} rows with {model.version} and {policy_version} in {elapsed:.1f} s -> {args.out}"
    )
    print(f"{'grade':<6} {'rows':>9} {'share':>7} {'mean PD':>9}")
    order = {b.grade: i for i, b in enumerate(policy.master_scale)}
    table = (
        result.group_by("grade")
        .agg(pl.len().alias("rows"), pl.col("pd_12m").mean().alias("pd"))
        .sort(pl.col("grade").replace_strict(order, return_dtype=pl.Int64()))
    )
    for row in table.iter_rows(named=True):
        print(
            f"{row['grade']:<6} {row['rows']:>9,} {row['rows'] / result.height:>7.1%} {row['pd']:>9.2%}"
        )
    return 0


def _run_report_model(args: argparse.Namespace) -> int:
    from underwriting.reports.model import model_report  # statsmodels: only here

    model = load_model(args.model)
    policy, _ = load_policy(args.rules)
    if _fingerprint(args.data) != model.training.data_fingerprint:
        print(
            f"warning: {args.data} is not the table {model.version} was trained on "
            "(its fingerprint differs); the charts describe this table instead",
            file=sys.stderr,
        )
    page = model_report(model, policy, _read_table(args.data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page)
    print(f"Wrote {args.out}: open it in any browser (it needs no network).")
    return 0


def _run_rules_check(args: argparse.Namespace) -> int:
    problems, rule_set = check_rule_set(args.dir)
    if rule_set is None:
        print(f"{args.dir}: {len(problems)} problem(s); the engine refuses this rule set")
        for problem in problems:
            print(f"  {problem}")
        return 1
    kinds = ", ".join(
        f"{sum(r.kind == k for r in rule_set.rules)} {k}"
        for k in ("knockout", "refer", "grade_cap", "limit_cap")
    )
    print(
        f"{args.dir}: rule set {rule_set.version} is valid ({len(rule_set.rules)} rules: {kinds})"
    )
    examples = load_examples(args.dir)
    if args.data is None:
        warnings = coverage_warnings(rule_set, examples) if examples else []
    else:  # none of the examples and the book's sample together, or every one of them
        book = _book_sample(args).select(feature_schema().names())
        cases = [example_features(examples), book] if examples else [book]
        what = (
            f"examples and merchants sampled from {args.data}"
            if examples
            else (f"merchants sampled from {args.data}")
        )
        together = pl.concat(cases, how="vertical_relaxed")
        warnings = firing_warnings(rule_set, together, what)
    for warning in warnings:
        print(f"  warning: {warning}")
    return 0


def _run_rules_test(args: argparse.Namespace) -> int:
    examples = load_examples(args.dir)
    if examples is None:
        raise PolicyError(
            f"{args.dir}: no {EXAMPLES_FILE}; add examples (see rules/README.md) to test a rule set"
        )
    rules = load_rule_set(args.dir)
    engine = Engine(load_model(args.model), rules)
    features = example_features(examples)
    decisions = engine.decide_frame(features, words=False)
    grades = [band.grade for band in rules.policy.master_scale]
    found = failures(examples, features, decisions, grades)
    for failure in found:
        print(f"FAIL {failure}")
    failed = len({f.example for f in found})
    print(
        f"{args.dir}: {len(examples.example)} examples, {failed} failed "
        f"(model {engine.model.version}, rule set {rules.version})"
    )
    invariants = load_invariants(args.dir)
    searched = examples
    if invariants and args.data is not None:
        searched = with_book(examples, _book_sample(args))
    broken = 0
    for invariant in invariants.invariant if invariants else ():
        counterexample = search(
            invariant,
            searched,
            lambda frame: engine.decide_frame(frame, words=False),
            grades,
            tries=args.tries,
        )
        if counterexample is None:
            continue
        broken += 1
        print(
            f"\nBROKEN invariant {invariant.name!r}; the smallest counterexample found, "
            "ready to paste into examples.toml:"
        )
        own = counterexample.base in examples.base
        print(counterexample.as_example(None if own else searched.base[counterexample.base]))
    if invariants:
        print(
            f"{args.dir}: {len(invariants.invariant)} invariants, {broken} broken "
            f"({args.tries} merchants tried for each)"
        )
    return 1 if found or broken else 0


def _book_sample(args: argparse.Namespace) -> pl.DataFrame:
    """Features of up to --book-merchants merchants of --data as of --as-of (a seeded
    sample, the same every run), for the invariant search to perturb."""
    if args.as_of is None:
        raise InputError("--data needs --as-of DATE: the date the book's features are taken")
    with tempfile.TemporaryDirectory() as scratch:
        build = build_feature_table(args.data, args.as_of, Path(scratch) / "features.parquet")
        features = pl.read_parquet(build.features)
    return features.sample(min(args.book_merchants, features.height), seed=7).sort("merchant_id")


def _run_decide(args: argparse.Namespace) -> int:
    application, benchmarks = _one_merchant(args, "decided")
    engine = Engine(load_model(args.model), load_rule_set(args.rules), benchmarks)
    prepared, cashflow = prepare_with_cashflow(application, benchmarks)
    decision = Decision.from_row(engine.decide_frame(prepared.features).row(0, named=True))
    if args.json:
        print(json.dumps(decision.model_dump(mode="json"), indent=2))
        return 0
    print(f"Merchant {decision.merchant_id} as of {decision.as_of}: {decision.outcome.upper()}")
    bound = "" if decision.outcome == "decline" else f" (bound by {decision.binding_constraint})"
    print(f"  limit            {decision.limit:>12,}{bound}")
    print(f"  grade            {decision.grade:>12}   (model grade {decision.model_grade})")
    print(f"  PD (12 months)   {decision.pd_12m:>12.2%}   score {decision.score}")
    print(
        f"  daily repayment  {decision.daily_repayment:>12,.2f}   expected loss {decision.expected_loss:,.2f}"
    )
    print("  reasons:")
    for code, text in zip(decision.reason_codes, decision.reasons, strict=True):
        print(f"    [{code}] {text}")
    print(f"  rules fired: {', '.join(decision.rules_fired) or 'none'}")
    print(f"  model {decision.model_version}, rule set {decision.rule_set_version}")
    industry = prepared.features["industry_code"][0]
    benchmark = benchmarks.filter(pl.col("industry_code") == industry).row(0, named=True)
    periods = sales_against_industry(cashflow.lazy(), benchmark, args.as_of, 12)
    print(
        f"  30-day sales against {benchmark['industry_name']} "
        "(░/▓ industry middle half, │ median, seasonally adjusted):"
    )
    for line in text_band_chart(band_points(periods)):
        print(f"    {line}")
    print(f"  every feature and a chart: underwrite report merchant --merchant {args.merchant}")
    return 0


def _run_rescore(args: argparse.Namespace) -> int:
    engine = Engine(load_model(args.model), load_rule_set(args.rules))
    owners = None
    if args.owners is not None:  # read before the long part, so a bad table fails at once
        from underwriting.fairness.owners import read_owners

        owners = read_owners(args.owners)
    merchants = DataFolder(args.data).merchant_count()
    runner = SparkRunner(args.spark_master) if args.engine == "spark" else LocalRunner()
    with tqdm(total=merchants, unit="merchant", desc="rescore") as bar:
        manifest = rescore(
            args.data,
            args.as_of,
            args.out,
            engine,
            chunk_merchants=args.chunk,
            previous=args.previous,
            runner=runner,
            progress=bar.update,
        )
    print(
        f"{manifest.decided:,} merchants decided, {manifest.merchants_quarantined:,} quarantined "
        f"({manifest.merchants_in:,} in; counts add up: {manifest.adds_up}) in "
        f"{manifest.seconds:.1f} s; {manifest.chunks_resumed} of {manifest.chunks} chunks resumed"
    )
    print("  outcomes: " + ", ".join(f"{k} {v:,}" for k, v in manifest.outcomes.items()))
    later = {k: r.get("after_as_of", 0) for k, r in manifest.rows.items()}
    if any(later.values()):
        dated = ", ".join(f"{k} {n:,}" for k, n in later.items() if n)
        print(f"  rows dated on or after {manifest.as_of}, set aside and not used: {dated}")
    print(f"  model {manifest.model_version}, rule set {manifest.rule_set_version}")
    print(f"  decisions in {args.out / 'decisions'}, manifest {args.out / 'manifest.json'}")
    print(f"  report: {args.out / 'report.html'}")
    if owners is not None:
        from underwriting.batch.validation_pack import screen_run

        _print_screen(*screen_run(args.out, engine, owners))
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    from underwriting.batch.compare import ARMS, compare

    champion_model = load_model(args.champion_model)
    challenger_model = (
        load_model(args.challenger_model) if args.challenger_model else champion_model
    )
    champion = Engine(champion_model, load_rule_set(args.champion))
    challenger = Engine(challenger_model, load_rule_set(args.challenger))
    merchants = DataFolder(args.data).merchant_count()
    with tqdm(total=merchants, unit="merchant", desc="compare") as bar:
        result = compare(
            args.data,
            args.as_of,
            args.out,
            champion,
            challenger,
            chunk_merchants=args.chunk,
            progress=bar.update,
        )
    for name in ARMS:
        arm = getattr(result, name)
        outcomes = ", ".join(f"{k} {v:,}" for k, v in arm["outcomes"].items())
        print(
            f"{name}: model {arm['model_version']}, rule set {arm['rule_set_version']}: "
            f"{outcomes}; total limit {_total_limit(args.out / name):,}"
        )
    share = result.same_outcome / max(result.merchants, 1)
    print(
        f"{result.merchants:,} merchants decided by both in {result.seconds:.1f} s: "
        f"{result.same_outcome:,} ({share:.1%}) keep their outcome, "
        f"{result.merchants - result.same_outcome:,} change it; "
        f"{result.identical:,} get the very same decision"
    )
    moves = [c for c in result.swap_set if c["champion_outcome"] != c["challenger_outcome"]]
    for cell in moves:
        if cell["merchants"]:
            print(
                f"  {cell['champion_outcome']} -> {cell['challenger_outcome']}: "
                f"{cell['merchants']:,} merchants, limit {cell['champion_limit']:,} -> "
                f"{cell['challenger_limit']:,}"
            )
    print(f"  {result.outcomes}")
    print(f"  each arm's decisions in {args.out}/{{champion,challenger}}/decisions")
    print(f"  report: {args.out / 'report.html'}")
    return 0


def _run_report_validation(args: argparse.Namespace) -> int:
    from underwriting.batch.validation_pack import validation_pack
    from underwriting.fairness.screen import FOUR_FIFTHS
    from underwriting.reports.validation import p_text

    engine = Engine(load_model(args.model), load_rule_set(args.rules))
    merchants = DataFolder(args.data).merchant_count()
    with tqdm(total=merchants, unit="merchant", desc="validation") as bar:
        written = validation_pack(
            args.data,
            engine,
            args.on,
            args.out,
            rules_dir=args.rules,
            owners=args.owners,
            database=args.database,
            runs=args.runs,
            chunk_merchants=args.chunk,
            progress=bar.update,
        )
    figures = written.figures
    print(
        f"{figures.scope['decided']:,} matured applications decided again as of their "
        f"application dates (windows closed by {args.on})"
    )
    if figures.backtest is not None:
        lights = ", ".join(
            f"{g} {j}" for g, j in figures.backtest.select("grade", "jeffreys").iter_rows()
        )
        print(f"  calibration (Jeffreys): {lights}")
    d = figures.discrimination
    if d is not None:
        against = (
            f" against {d['reference_auc']:.3f} at development (p = {p_text(d['p_value'])})"
            if d["p_value"] is not None
            else ""
        )
        print(f"  AUC {d['auc']:.3f} ({d['auc_low']:.3f} to {d['auc_high']:.3f}){against}")
    if figures.score_psi is not None:
        psi_now = figures.score_psi
        print(f"  score PSI {psi_now['index']:.3f} ({psi_now['stability']})")
    if figures.features is not None:
        moved = figures.features.filter(pl.col("stability") != "stable")
        shown = ", ".join(f"{f} {c:.2f}" for f, c in moved.select("feature", "csi").iter_rows())
        print(f"  features drifted (CSI >= 0.1): {shown or 'none'}")
    if figures.fairness:
        adverse = figures.fairness["adverse_impact"].filter(pl.col("air_approved") < FOUR_FIFTHS)
        for row in adverse.iter_rows(named=True):
            print(
                f"  adverse impact: {row['attribute']} {row['group']!r} approval ratio "
                f"{row['air_approved']:.2f} (Fisher p = {p_text(row['fisher_p_approved'])})"
            )
        strong = figures.fairness["proxies"].filter(pl.col("strength") == "strong")
        for row in strong.iter_rows(named=True):
            print(
                f"  strong proxy: {row['feature']} for {row['attribute']} "
                f"(Cramér's V {row['cramers_v']:.2f})"
            )
    for key, text in figures.notes.items():
        print(f"  not shown ({key}): {text}")
    print(f"  report: {written.page}, figures: {written.json}")
    return 0


def _print_screen(found: dict[str, pl.DataFrame], page: Path) -> None:
    from underwriting.fairness.screen import FOUR_FIFTHS

    impact = found["adverse_impact"].filter(~pl.col("reference"))
    for row in impact.iter_rows(named=True):
        flag = "  below four-fifths" if row["air_approved"] < FOUR_FIFTHS else ""
        print(
            f"  {row['attribute']} {row['group']!r}: approval AIR {row['air_approved']:.2f}, "
            f"approve-or-refer AIR {row['air_approved_or_referred']:.2f} "
            f"({row['applicants']:,} applicants){flag}"
        )
    print(f"  fair-lending screen: {page}")


def _total_limit(run: Path) -> int:
    from underwriting.batch.rescore import read_decisions

    return int(read_decisions(run, ("limit",))["limit"].sum())


def _book_sample_options(command: argparse.ArgumentParser, data_help: str) -> None:
    """--data, --as-of and --book-merchants: a seeded sample of a book (`_book_sample`)."""
    command.add_argument("--data", type=Path, help=data_help)
    command.add_argument("--as-of", type=_date, help="the date the book's features are taken")
    command.add_argument(
        "--book-merchants", type=_positive, default=200, help="merchants taken from --data"
    )


def _model_and_rules(command: argparse.ArgumentParser) -> None:
    """The --model and --rules options that every scoring command shares."""
    command.add_argument(
        "--model", type=Path, default=Path("models/scorecard.json"), help="model artifact"
    )
    command.add_argument(
        "--rules", type=Path, default=Path("rules/v1"), help="rule-set folder (policy and rules)"
    )


def _parser(extend: Extension | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="underwrite", description="Small-business credit underwriting engine."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("simulate", help="write a synthetic merchant book as Parquet")
    sim.add_argument("--out", type=Path, required=True, help="folder to write the tables to")
    sim.add_argument("--merchants", type=_positive, default=10_000)
    sim.add_argument(
        "--as-of", type=_date, default=SimulationConfig.as_of, help="latest application date"
    )
    sim.add_argument("--days", type=_positive, default=730, help="days of daily data per merchant")
    sim.add_argument(
        "--cohorts",
        type=_positive,
        default=SimulationConfig.cohorts,
        help="quarterly application cohorts",
    )
    sim.add_argument("--seed", type=int, default=SimulationConfig.seed)
    sim.add_argument(
        "--full-history",
        action="store_true",
        help="every merchant trades the whole window and reports traffic (for sizing)",
    )
    sim.set_defaults(run=_run_simulate)

    feat = commands.add_parser(
        "features", help="validate a data folder and write its feature table"
    )
    feat.add_argument("--data", type=Path, required=True, help="folder with the input tables")
    feat.add_argument(
        "--as-of",
        type=_as_of,
        required=True,
        help="YYYY-MM-DD, or 'outcomes' for each outcome's date",
    )
    feat.add_argument("--out", type=Path, required=True, help="feature table to write (.parquet)")
    feat.add_argument(
        "--quarantine", type=Path, default=None, help="where to write quarantined rows"
    )
    feat.add_argument("--chunk", type=_positive, default=100_000, help="merchants per chunk")
    feat.add_argument("--summary", action="store_true", help="print each feature's spread")
    feat.set_defaults(run=_run_features)

    trainer = commands.add_parser(
        "train", help="train a monotone WoE logistic scorecard on a table with a binary target"
    )
    trainer.add_argument(
        "--data", type=Path, required=True, help="training table (.parquet or .csv)"
    )
    trainer.add_argument(
        "--target",
        required=True,
        help="binary target column: 1/0, a Boolean or bad/good (else name the bad value, --bad)",
    )
    polarity = trainer.add_mutually_exclusive_group()
    polarity.add_argument("--bad", help="the target's value that means bad (default), e.g. 2")
    polarity.add_argument("--good", help="the target's value that means good; the other is bad")
    trainer.add_argument(
        "--allow-protected",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="let these protected attributes be features (needs --reason; recorded)",
    )
    trainer.add_argument("--reason", help="why the law allows --allow-protected")
    trainer.add_argument(
        "--protected",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="treat these columns as protected attributes too (refused as features)",
    )
    trainer.add_argument(
        "--refit-all",
        action="store_true",
        help="after the held-out metrics, refit the final bins and coefficients on all rows",
    )
    trainer.add_argument(
        "--features", nargs="*", help="candidate features (default: every other column)"
    )
    trainer.add_argument(
        "--exclude", nargs="*", default=["merchant_id"], help="columns that are not features"
    )
    trainer.add_argument(
        "--date-column", default="as_of", help="date column for the out-of-time split"
    )
    trainer.add_argument(
        "--out-of-time", type=_date, help="rows dated on or after this form the out-of-time part"
    )
    trainer.add_argument(
        "--rules",
        type=Path,
        default=Path("rules/v1"),
        help="rule set with the scorecard scaling and master scale",
    )
    trainer.add_argument("--seed", type=int, default=7, help="seed of the train/test split")
    trainer.add_argument(
        "--key",
        nargs="+",
        metavar="COLUMN",
        help="columns that identify a row; their hash decides its part (default: merchant_id "
        "and the date column if present, else the whole row's content)",
    )
    trainer.add_argument(
        "--out", type=Path, default=Path("models/scorecard.json"), help="artifact to write"
    )
    trainer.set_defaults(run=_run_train)

    scorer = commands.add_parser("score", help="PD, score, grade and reasons for a feature table")
    scorer.add_argument(
        "--features", type=Path, required=True, help="feature table (.parquet or .csv)"
    )
    _model_and_rules(scorer)
    scorer.add_argument("--out", type=Path, required=True, help="scores to write (.parquet)")
    scorer.set_defaults(run=_run_score)

    decider = commands.add_parser("decide", help="decide one merchant from the data folder")
    decider.add_argument("--data", type=Path, required=True, help="folder with the input tables")
    decider.add_argument("--merchant", required=True, help="merchant_id")
    decider.add_argument("--as-of", type=_date, required=True, help="YYYY-MM-DD")
    _model_and_rules(decider)
    decider.add_argument("--json", action="store_true", help="print the decision as JSON")
    decider.set_defaults(run=_run_decide)

    rescorer = commands.add_parser(
        "rescore", help="decide every merchant of a data folder into a run directory (resumable)"
    )
    rescorer.add_argument("--data", type=Path, required=True, help="folder with the input tables")
    rescorer.add_argument("--as-of", type=_date, required=True, help="YYYY-MM-DD")
    rescorer.add_argument("--out", type=Path, required=True, help="run directory")
    rescorer.add_argument("--chunk", type=_positive, default=50_000, help="merchants per chunk")
    rescorer.add_argument(
        "--previous", type=Path, help="an earlier finished run to report migration against"
    )
    rescorer.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="run the chunks in this process or as Spark tasks (same function, same files)",
    )
    rescorer.add_argument(
        "--spark-master", default="local[*]", help="Spark master URL for --engine spark"
    )
    rescorer.add_argument(
        "--owners",
        type=Path,
        help="owners' demographics (owners.parquet): also write the fair-lending screen "
        "(fair-lending.html) of the run",
    )
    _model_and_rules(rescorer)
    rescorer.set_defaults(run=_run_rescore)

    comparer = commands.add_parser(
        "compare",
        help="decide a book under a champion and a challenger rule set (and model) in one "
        "pass; write both arms' decisions and the swap set's report (resumable)",
    )
    comparer.add_argument("--data", type=Path, required=True, help="folder with the input tables")
    comparer.add_argument("--as-of", type=_date, required=True, help="YYYY-MM-DD")
    comparer.add_argument("--champion", type=Path, required=True, help="the live rule-set folder")
    comparer.add_argument(
        "--challenger", type=Path, required=True, help="the candidate rule-set folder"
    )
    comparer.add_argument(
        "--champion-model",
        type=Path,
        default=Path("models/scorecard.json"),
        help="the champion's model artifact",
    )
    comparer.add_argument(
        "--challenger-model", type=Path, help="the challenger's model (default: the champion's)"
    )
    comparer.add_argument("--out", type=Path, required=True, help="comparison directory")
    comparer.add_argument("--chunk", type=_positive, default=50_000, help="merchants per chunk")
    comparer.set_defaults(run=_run_compare)

    rules = commands.add_parser("rules", help="work with rule sets")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True)
    checker = rule_commands.add_parser(
        "check", help="validate a rule set; exit 1 with every problem"
    )
    checker.add_argument(
        "dir", type=Path, nargs="?", default=Path("rules/v1"), help="rule-set folder"
    )
    _book_sample_options(checker, "a book: warn of rules that fire for none or all of a sample")
    checker.set_defaults(run=_run_rules_check)
    tester = rule_commands.add_parser(
        "test",
        help="run the rule set's examples (examples.toml) through the whole engine; exit 1 "
        "with every failure",
    )
    tester.add_argument(
        "dir", type=Path, nargs="?", default=Path("rules/v1"), help="rule-set folder"
    )
    tester.add_argument("--model", type=Path, default=Path("models/scorecard.json"))
    _book_sample_options(tester, "a book whose merchants the invariant search also perturbs")
    tester.add_argument(
        "--tries",
        type=_positive,
        default=200,
        help="merchants tried for each invariant (invariants.toml) before it is taken to hold",
    )
    tester.set_defaults(run=_run_rules_test)

    report = commands.add_parser("report", help="write a report for a person to read")
    kinds = report.add_subparsers(dest="kind", required=True)
    merchant = kinds.add_parser(
        "merchant", help="one merchant's sales against its industry, and its features (HTML)"
    )
    merchant.add_argument("--data", type=Path, required=True, help="folder with the input tables")
    merchant.add_argument("--merchant", required=True, help="merchant_id")
    merchant.add_argument("--as-of", type=_date, required=True, help="YYYY-MM-DD")
    merchant.add_argument("--out", type=Path, required=True, help="HTML file to write")
    merchant.set_defaults(run=_run_report_merchant)
    model_page = kinds.add_parser(
        "model", help="ROC, KS, calibration, coefficients and bins (HTML)"
    )
    model_page.add_argument(
        "--data", type=Path, required=True, help="the table the model was trained on"
    )
    _model_and_rules(model_page)
    model_page.add_argument("--out", type=Path, required=True, help="HTML file to write")
    model_page.set_defaults(run=_run_report_model)
    validation = kinds.add_parser(
        "validation",
        help="the monthly validation pack on matured cohorts: backtests by grade, "
        "discrimination, stability, overrides, rule firing and the fair-lending screen "
        "(HTML, and JSON beside it)",
    )
    validation.add_argument(
        "--data", type=Path, required=True, help="folder with the input tables and outcomes"
    )
    _model_and_rules(validation)
    validation.add_argument(
        "--on",
        type=_date,
        default=dt.date.today(),
        help="validation date: cohorts whose 12-month window closed by then are matured "
        "(default: today)",
    )
    validation.add_argument(
        "--runs", type=Path, nargs="*", default=[], help="finished rescore runs, oldest first"
    )
    validation.add_argument(
        "--database", help="the API's store, for the officers' overrides (a database URL)"
    )
    validation.add_argument(
        "--owners",
        type=Path,
        help="owners' demographics (default: owners.parquet in --data, if there)",
    )
    validation.add_argument("--chunk", type=_positive, default=50_000, help="merchants per chunk")
    validation.add_argument(
        "--out", type=Path, required=True, help="HTML file to write (the .json goes beside it)"
    )
    validation.set_defaults(run=_run_report_validation)
    if extend is not None:
        extend(commands)
    return parser


Extension = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
"""Adds commands to `underwrite` (the API's db, keys and serve commands)."""


def main(argv: Sequence[str] | None = None, extend: Extension | None = None) -> int:
    """Run the `underwrite` command; returns the process exit code."""
    args = _parser(extend).parse_args(argv)
    data = getattr(args, "data", None)
    try:
        with reading(data) if isinstance(data, Path) and data.is_dir() else nullcontext():
            code: int = args.run(args)
    except UnderwritingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {_os_error(error)}", file=sys.stderr)
        return 2
    except pl.exceptions.PolarsError as error:
        print(
            f"error: the data could not be read ({str(error).strip().splitlines()[0]}); check "
            "the files given (a CSV must be UTF-8, with quotes closed and as many fields on "
            "every line as in its header)",
            file=sys.stderr,
        )
        return 2
    except Exception as error:
        print(
            f"error: an internal error in underwrite ({type(error).__name__}); this is a bug: "
            "please report it with the command you ran and the trace below",
            file=sys.stderr,
        )
        raise
    return code


def _os_error(error: OSError) -> str:
    """A file the system refused, in one line with what to do."""
    where = f"{error.filename}: " if error.filename else ""
    reason = error.strerror or str(error)
    if isinstance(error, PermissionError):
        return f"{where}{reason}; choose a file or folder you may write to (or read)"
    if isinstance(error, FileNotFoundError):
        return f"{where}{reason}; check the path"
    if isinstance(error, IsADirectoryError | NotADirectoryError):
        return f"{where}{reason}; give a file where a file is wanted, a folder for a folder"
    return f"{where}{reason}"


if __name__ == "__main__":
    sys.exit(main())
