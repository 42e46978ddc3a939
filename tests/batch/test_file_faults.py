"""A corpus of broken data folders: each file fault is exit 2 with one line that names the
file, what is wrong and the fix, in `features`, `rescore` and `rescore --engine spark`;
never a traceback. Every part's columns are checked, not only the first part's."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from tests.conftest import RULES_V1
from underwriting.io.artifacts import save_model
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

AS_OF = "2026-10-01"
Fault = Callable[[Path], str]
"""Breaks a copy of the book; returns the text the error must name (the file)."""


def _halves(folder: Path) -> None:
    """The cash flow as two parts, so one part can differ from the other."""
    cashflow = pl.read_parquet(folder / "cashflow")
    shutil.rmtree(folder / "cashflow")
    (folder / "cashflow").mkdir()
    half = cashflow.height // 2
    cashflow[:half].write_parquet(folder / "cashflow" / "part-00000.parquet")
    cashflow[half:].write_parquet(folder / "cashflow" / "part-00001.parquet")


def _second_part(folder: Path) -> Path:
    return folder / "cashflow" / "part-00001.parquet"


def truncated(folder: Path) -> str:
    part = _second_part(folder)
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    return "part-00001.parquet"


def empty_part(folder: Path) -> str:
    _second_part(folder).write_bytes(b"")
    return "part-00001.parquet"


def flipped_footer(folder: Path) -> str:
    part = _second_part(folder)
    data = bytearray(part.read_bytes())
    for i in range(len(data) - 40, len(data) - 8):  # the footer's metadata
        data[i] ^= 0xFF
    part.write_bytes(bytes(data))
    return "part-00001.parquet"


def missing_column(folder: Path) -> str:
    part = _second_part(folder)
    pl.read_parquet(part).drop("refunds").write_parquet(part)
    return "part-00001.parquet"


def extra_column(folder: Path) -> str:
    part = _second_part(folder)
    pl.read_parquet(part).with_columns(note=pl.lit("x")).write_parquet(part)
    return "part-00001.parquet"


def text_sales(folder: Path) -> str:
    part = _second_part(folder)
    frame = pl.read_parquet(part)
    frame.with_columns(pl.col("gross_sales").cast(pl.String)).write_parquet(part)
    return "part-00001.parquet"


def _merchants_csv(folder: Path, text: bytes) -> str:
    (folder / "merchants.parquet").unlink()
    (folder / "merchants.csv").write_bytes(text)
    return "merchants.csv"


def empty_csv(folder: Path) -> str:
    return _merchants_csv(folder, b"")


def _csv_of_merchants(folder: Path) -> str:
    return pl.read_parquet(folder / "merchants.parquet").write_csv()


def ragged_csv(folder: Path) -> str:
    lines = _csv_of_merchants(folder).splitlines()
    lines[3] += ",surplus"
    return _merchants_csv(folder, "\n".join(lines).encode())


def unclosed_quote_csv(folder: Path) -> str:
    lines = _csv_of_merchants(folder).splitlines()
    lines[3] = lines[3].replace(",", ',"', 1)
    return _merchants_csv(folder, "\n".join(lines).encode())


def latin1_csv(folder: Path) -> str:
    text = _csv_of_merchants(folder).replace("north", "nörth", 1).replace("south", "söuth")
    return _merchants_csv(folder, text.encode("latin-1"))


def no_merchants(folder: Path) -> str:
    merchants = pl.read_parquet(folder / "merchants.parquet")
    merchants.clear().write_parquet(folder / "merchants.parquet")
    return "has no rows"


FAULTS = [
    truncated,
    empty_part,
    flipped_footer,
    missing_column,
    extra_column,
    text_sales,
    empty_csv,
    ragged_csv,
    unclosed_quote_csv,
    latin1_csv,
    no_merchants,
]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory, trained: tuple[Scorecard, Policy]) -> Path:
    path = tmp_path_factory.mktemp("model") / "scorecard.json"
    save_model(trained[0], path)
    return path


def _broken(small_book: Path, tmp_path: Path, fault: Fault) -> tuple[Path, str]:
    folder = tmp_path / "book"
    shutil.copytree(small_book, folder)
    _halves(folder)
    return folder, fault(folder)


def _one_line(capsys: pytest.CaptureFixture[str], named: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err and "Py4J" not in captured.err, captured.err
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, captured.err
    assert named in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_features_names_the_broken_file(
    small_book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: Fault
) -> None:
    folder, named = _broken(small_book, tmp_path, fault)
    out = tmp_path / "features.parquet"
    assert main(["features", "--data", str(folder), "--as-of", AS_OF, "--out", str(out)]) == 2
    _one_line(capsys, named)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_rescore_names_the_broken_file(
    small_book: Path,
    tmp_path: Path,
    model_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: Fault,
) -> None:
    folder, named = _broken(small_book, tmp_path, fault)
    command = ["rescore", "--data", str(folder), "--as-of", AS_OF, "--out", str(tmp_path / "run")]
    assert main([*command, "--model", str(model_path), "--rules", str(RULES_V1)]) == 2
    _one_line(capsys, named)


def _ragged_cashflow_csv(folder: Path) -> str:
    """A daily table read only inside the tasks: the worker must name the file."""
    cashflow = pl.read_parquet(folder / "cashflow")
    shutil.rmtree(folder / "cashflow")
    lines = cashflow.write_csv().splitlines()
    lines[len(lines) // 2] += ",surplus"
    (folder / "cashflow.csv").write_text("\n".join(lines))
    return "cashflow.csv"


@pytest.mark.parametrize("fault", [truncated, _ragged_cashflow_csv], ids=lambda f: f.__name__)
def test_spark_names_the_broken_file_without_a_java_trace(
    small_book: Path,
    tmp_path: Path,
    model_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: Fault,
) -> None:
    folder, named = _broken(small_book, tmp_path, fault)
    command = ["rescore", "--data", str(folder), "--as-of", AS_OF, "--out", str(tmp_path / "run")]
    code = main(
        [*command, "--model", str(model_path), "--rules", str(RULES_V1), "--engine", "spark",
         "--spark-master", "local[2]", "--chunk", "300"]
    )  # fmt: skip
    assert code == 2
    _one_line(capsys, named)


def test_an_unwritable_out_is_one_line(
    small_book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out under a plain file: no user, root included, can write there."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "features.parquet"
    code = main(["features", "--data", str(small_book), "--as-of", AS_OF, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err, captured.err
    (line,) = [x for x in captured.err.splitlines() if x.startswith("error: ")]
    assert str(blocker) in line


def test_a_run_directory_inside_its_data_folder_resumes(
    small_book: Path, tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "book"
    shutil.copytree(small_book, folder)
    run = folder / "runs" / "first"
    command = ["rescore", "--data", str(folder), "--as-of", AS_OF, "--out", str(run)]
    command += ["--model", str(model_path), "--rules", str(RULES_V1), "--chunk", "300"]
    assert main(command) == 0
    capsys.readouterr()
    for interrupted in ("manifest.json", "report.html", "counts/part-00001.json"):
        (run / interrupted).unlink()  # as if stopped during the second chunk
    (run / "decisions" / "part-00001.parquet").unlink()
    assert main(command) == 0
    assert "1 of 2 chunks resumed" in capsys.readouterr().out
