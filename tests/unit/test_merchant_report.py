"""The one-merchant page: sales per 30-day period against the industry's seasonal band."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.unit.test_features_by_hand import T, benchmarks, cashflow_a
from underwriting.cli import main
from underwriting.contract.tables import CASHFLOW
from underwriting.reports.charts import BandPoint, band_chart, text_band_chart
from underwriting.reports.merchant import sales_against_industry


def test_periods_sum_sales_and_scale_the_band_by_season() -> None:
    seasonal = [0.5] * 6 + [1.5] * 6
    bench = benchmarks(seasonal).row(0, named=True)
    cash = pl.DataFrame(cashflow_a(), schema=CASHFLOW.schema, orient="row").lazy()
    periods = sales_against_industry(cash, bench, T)
    assert periods.height == 16  # 500 days of history hold 16 whole 30-day periods
    assert periods["start"].is_sorted()
    assert periods["sales"][-1] == 6000.0  # the last 30 days
    assert periods["sales"][-2] == 2000.0  # 20 selling days of the 10 closed
    last = periods.row(periods.height - 1, named=True)
    assert last["start"] == T - dt.timedelta(days=30)
    # The last period's middle falls in December: index 1.5, scaled to 30 days.
    assert last["industry_median"] == pytest.approx(3000 * 1.5 * 30 / (365 / 12))
    assert (periods["industry_q1"] <= periods["industry_median"]).all()


def test_band_chart_is_self_contained_svg() -> None:
    svg = band_chart(
        [
            BandPoint("Jan 26", 120.0, 80.0, 100.0, 130.0),
            BandPoint("Feb 26", 90.0, 70.0, 95.0, 120.0),
        ],
        title="t <&>",
        series_name="m",
        band_name="b",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "t &lt;&amp;&gt;" in svg
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert svg.count("<circle") == 2


def test_report_command_writes_an_offline_page(small_book: Path, tmp_path: Path) -> None:
    out = tmp_path / "merchant.html"
    assert (
        main(
            [
                "report",
                "merchant",
                "--data",
                str(small_book),
                "--merchant",
                "M00000003",
                "--as-of",
                "2026-10-01",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    page = out.read_text()
    assert "<svg" in page and "Merchant M00000003 as of 2026-10-01" in page
    assert "<script" not in page and "https://" not in page
    assert "chargeback_ratio" in page


def test_report_for_an_unknown_merchant_says_so(
    small_book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "report",
            "merchant",
            "--data",
            str(small_book),
            "--merchant",
            "NOPE",
            "--as-of",
            "2026-10-01",
            "--out",
            str(tmp_path / "x.html"),
        ]
    )
    assert code == 2
    assert "merchant NOPE cannot be reported: no such merchant_id" in capsys.readouterr().err


def test_the_terminal_chart_places_each_period_against_the_band() -> None:
    points = [
        BandPoint("Jan 26", 50.0, 100.0, 150.0, 200.0),
        BandPoint("Feb 26", 150.0, 100.0, 150.0, 200.0),
        BandPoint("Mar 26", 400.0, 100.0, 150.0, 200.0),
        BandPoint("Apr 26", 0.0, 100.0, 150.0, 200.0),
    ]
    lines = text_band_chart(points, width=41)
    assert [line.split()[-1] for line in lines] == ["below", "within", "above", "below"]
    bars = [line[8:49] for line in lines]
    assert bars[2].count("█") + bars[2].count("▓") + bars[2].count("│") == 41  # the largest
    assert bars[0].startswith("█" * 5) and bars[0][6] == " "  # 50 of 400 is 5 of 40 columns
    assert bars[3][0] == " " and bars[3][15] == "│"  # no sales: only the band and its median
    assert "400" in lines[2]
