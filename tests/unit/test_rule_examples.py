"""A rule set's examples run through the whole engine in `make test`: rules/v1's pass, and
pin every rule (each fires in one example and not in another), every term of the limit
and the order of reasons. A broken rule set fails with the example, the expectation and
what came out; a broken examples file is one line naming it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.cli import main
from underwriting.io.artifacts import save_model
from underwriting.io.rule_sets import load_examples, load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory, trained: tuple[Scorecard, Policy]) -> Path:
    path = tmp_path_factory.mktemp("model") / "scorecard.json"
    save_model(trained[0], path)
    return path


def _test(rules: Path, model: Path) -> int:
    return main(["rules", "test", str(rules), "--model", str(model)])


def test_the_v1_examples_pass(model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _test(RULES_V1, model_path) == 0, capsys.readouterr().out
    assert "22 examples, 0 failed" in capsys.readouterr().out


def test_every_rule_fires_in_one_example_and_not_in_another() -> None:
    examples = load_examples(RULES_V1)
    assert examples is not None
    rules = {r.id for r in load_rule_set(RULES_V1).rules}
    fire = {r for e in examples.example for r in (*(e.expect.fired or ()), *e.expect.fires)}
    quiet = {
        r
        for e in examples.example
        for r in (
            *e.expect.not_fired,
            *(rules - set(e.expect.fired) if e.expect.fired is not None else ()),
        )
    }
    assert fire == rules and quiet == rules
    bindings = {e.expect.binding for e in examples.example} - {None}
    assert bindings == {"multiple", "capacity", "industry_max", "programme_max", "rule_cap"}
    assert any(e.given.get("existing_exposure") for e in examples.example if e.expect.limit)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "v1-edited"
    shutil.copytree(RULES_V1, folder)
    return folder


def test_a_reversed_knockout_fails_with_the_example_and_what_came_out(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    rules = (folder / "rules.toml").read_text()
    (folder / "rules.toml").write_text(rules.replace("tenure_days < 180", "tenure_days >= 180"))
    assert _test(folder, model_path) == 1
    out = capsys.readouterr().out
    assert "FAIL too young a business: outcome expected 'decline', got 'approve'" in out
    assert "FAIL a strong merchant: no rule fires and repayment capacity binds: rules fired" in out


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda t: t.replace("given = { tenure_days = 179 }", "given = { tenure = 179 }"),
            "unknown feature(s) ['tenure']",
        ),
        (lambda t: t.replace('base = "weak"', 'base = "feeble"', 1), "names base 'feeble'"),
        (
            lambda t: t.replace('outcome = "refer"', 'outcome = "maybe"', 1),
            "example 'chargebacks in the warning band: referred' expect.outcome",
        ),
        (lambda t: t + "\n[[example\n", "not valid TOML"),
    ],
)
def test_a_broken_examples_file_is_one_line_naming_it(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str], edit: object, named: str
) -> None:
    folder = _copy(tmp_path)
    path = folder / "examples.toml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    assert _test(folder, model_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and named in err[0], err


SMALL_CAP_FOR_LARGE = (
    '\n[[rule]]\nid = "LC-BIG"\nkind = "limit_cap"\ncondition = "avg_monthly_sales > 100000"\n'
    'cap = "5000"\nreason_code = "R99"\nreason = "Large merchants get a small limit"\n'
)
"""A limit cap that falls as sales rise: it breaks "more sales never lower the limit"."""


def _test_tries(rules: Path, model: Path, tries: int = 60) -> int:
    return main(["rules", "test", str(rules), "--model", str(model), "--tries", str(tries)])


def test_the_v1_invariants_hold(model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _test_tries(RULES_V1, model_path) == 0
    assert "12 invariants, 0 broken" in capsys.readouterr().out


def _pasted(out: str) -> str:
    start = out.index('[[example]]\nname = "counterexample')
    return out[start : out.index("\n\n", start)] + "\n"


def test_a_reversed_knockout_breaks_its_invariant_and_the_counterexample_fails_as_an_example(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    rules = (folder / "rules.toml").read_text()
    (folder / "rules.toml").write_text(rules.replace("tenure_days < 180", "tenure_days >= 180"))
    assert _test_tries(folder, model_path) == 1
    out = capsys.readouterr().out
    assert "BROKEN invariant 'under six months of trading is declined'" in out
    example = _pasted(out)
    assert "given = { tenure_days = 0 }" in example  # shrunk to the one feature that matters
    (folder / "examples.toml").write_text(example + (folder / "examples.toml").read_text())
    (folder / "invariants.toml").unlink()
    assert _test(folder, model_path) == 1
    failed = capsys.readouterr().out
    assert "FAIL counterexample: under six months of trading is declined: holds expected" in failed


def test_a_cap_that_falls_as_sales_rise_breaks_monotone_limits(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    (folder / "rules.toml").write_text((folder / "rules.toml").read_text() + SMALL_CAP_FOR_LARGE)
    assert _test_tries(folder, model_path) == 1
    out = capsys.readouterr().out
    assert "BROKEN invariant 'more sales never lower the limit'" in out
    example = _pasted(out)
    assert 'holds = "\\"limit\\" >= ' in example
    (folder / "examples.toml").write_text(example + (folder / "examples.toml").read_text())
    (folder / "invariants.toml").unlink()
    assert _test(folder, model_path) == 1
    assert "FAIL counterexample: more sales never lower the limit: holds" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            '[[invariant]]\nname = "x"\nkind = "monotone"\nfeature = "sales"\noutput = "limit"\n',
            "needs a known `feature`",
        ),
        ('[[invariant]]\nname = "x"\nkind = "bound"\nthen = "limit <<< 3"\n', "not valid SQL"),
        (
            '[[invariant]]\nname = "x"\nkind = "bound"\nthen = "loan > 3"\n',
            "unknown name(s) ['loan']",
        ),
        (
            '[[invariant]]\nname = "x"\nkind = "implication"\nthen = "limit > 3"\n',
            "needs `when` and `then`",
        ),
    ],
)
def test_a_broken_invariant_is_one_line_naming_it(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str
) -> None:
    folder = _copy(tmp_path)
    (folder / "invariants.toml").write_text(text)
    assert _test(folder, model_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invariants.toml" in err[0] and named in err[0], err


def test_rules_check_warns_of_a_rule_no_example_exercises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    rules = (folder / "rules.toml").read_text()
    (folder / "rules.toml").write_text(
        rules.replace("requested_amount > 100000", "requested_amount > 1e9")
    )
    assert main(["rules", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "warning: REF-LARGE-REQUEST fires for none of the 22 examples" in out
    assert main(["rules", "check", str(RULES_V1)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_the_search_perturbs_real_merchants_of_a_book_and_their_counterexample_pastes(
    tmp_path: Path, model_path: Path, small_book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    (folder / "rules.toml").write_text((folder / "rules.toml").read_text() + SMALL_CAP_FOR_LARGE)
    command = ["rules", "test", str(folder), "--model", str(model_path), "--tries", "60"]
    book = ["--data", str(small_book), "--as-of", "2026-10-01", "--book-merchants", "40"]
    assert main([*command, *book]) == 1
    out = capsys.readouterr().out
    assert "BROKEN invariant 'more sales never lower the limit'" in out
    pasted = out.split("ready to paste into examples.toml:\n", 1)[1].split("\n\n" + str(folder))[0]
    (folder / "examples.toml").write_text(pasted + "\n\n" + (folder / "examples.toml").read_text())
    (folder / "invariants.toml").unlink()
    assert _test(folder, model_path) == 1
    assert "FAIL counterexample: more sales never lower the limit: holds" in capsys.readouterr().out


def test_a_books_merchants_become_bases_of_the_search(small_book: Path, tmp_path: Path) -> None:
    from underwriting.batch.feature_table import build_feature_table
    from underwriting.policy.invariants import with_book

    examples = load_examples(RULES_V1)
    assert examples is not None
    out = tmp_path / "features.parquet"
    book = pl.read_parquet(build_feature_table(small_book, dt.date(2026, 10, 1), out).features)
    searched = with_book(examples, book.head(5))
    assert set(searched.base) == {"strong", "weak", *book.head(5)["merchant_id"].to_list()}
    assert searched.base["strong"] == examples.base["strong"]


def test_rules_check_warns_of_a_rule_that_fires_for_a_whole_book(
    tmp_path: Path, small_book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path)
    rules = (folder / "rules.toml").read_text()
    (folder / "rules.toml").write_text(rules.replace("tenure_days < 180", "tenure_days < 100000"))
    book = ["--data", str(small_book), "--as-of", "2026-10-01", "--book-merchants", "50"]
    assert main(["rules", "check", str(folder), *book]) == 0
    out = capsys.readouterr().out
    assert "warning: KO-TENURE fires for every one of the 72 examples and merchants sampled" in out
