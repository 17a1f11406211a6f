"""Figures in the Dagster UI read as an operator reads them (loop/metadata.py)."""

import dagster as dg
import numpy as np

from titanic_assets.loop.metadata import readable, rounded


def test_figures_keep_three_decimals_or_three_significant_digits_when_small():
    assert readable(0.7655502392344498) == 0.766
    assert readable(np.float64(0.7655502392344498)) == 0.766
    assert readable(0.000423456) == 0.000423
    assert readable(-0.0456789) == -0.0457
    assert readable(1234.56789) == 1234.568
    assert np.isnan(readable(float("nan"))) and readable(0.0) == 0.0


def test_every_figure_of_the_metadata_is_rounded_and_floats_stay_floats():
    metadata = rounded(
        {
            "accuracy": dg.MetadataValue.float(0.7655502392344498),
            "raw": 0.123456,
            "comparison": dg.MetadataValue.json({"difference": {"low": -0.0456789}, "rows": 157}),
            "nested": {"values": [0.11111, 2]},
            "flag": True,
            "words": "0.123456 stays as written",
            "schema": dg.TableSchema(columns=[dg.TableColumn("Age", "float64")]),
        }
    )
    assert metadata["schema"] == dg.TableSchema(columns=[dg.TableColumn("Age", "float64")])
    assert metadata["accuracy"] == dg.MetadataValue.float(0.766)  # still plotted
    assert metadata["raw"] == 0.123
    assert metadata["comparison"].data == {"difference": {"low": -0.0457}, "rows": 157}
    assert metadata["nested"] == {"values": [0.111, 2]}
    assert metadata["flag"] is True and metadata["words"] == "0.123456 stays as written"
