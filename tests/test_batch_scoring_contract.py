"""Batch scoring knows no domain: any contract's rules, its id column or none, its word for
the decision; numeric inputs reach the model as numbers, categories stripped."""

import io

import numpy as np
import pandas as pd

from titanic_assets.core.batch_scoring import input_columns, invalid_rows, score_file
from titanic_assets.core.contract import InputField

INPUTS = (
    InputField("hours", "int", "Hours.", required=True, minimum=0, maximum=99),
    InputField("sector", "category", "Sector.", allowed=("private", "state")),
    InputField("rate", "float", "A rate.", minimum=0, maximum=1),
)


class Model:
    """Scores a row by its rate: what reaches it is what the model's feature code reads."""

    threshold, version = 0.5, "v7"

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def probabilities(self, columns: dict) -> np.ndarray:
        self.seen.append(columns)
        return np.nan_to_num(np.asarray(columns["rate"], dtype=float), nan=0.0)


def test_rows_without_an_id_column_are_known_by_their_number_in_the_file():
    source = b"hours,sector,rate\n40, private,0.9\n200,state,0.1\n10,,\n"
    predictions, rejects, model = io.BytesIO(), io.BytesIO(), Model()

    summary = score_file(io.BytesIO(source), model, predictions, rejects, INPUTS, None, "approved")

    scored = pd.read_csv(io.BytesIO(predictions.getvalue()))
    assert list(scored.columns) == ["row", "approved", "probability", "model_version"]
    assert scored["row"].tolist() == [1, 3] and scored["approved"].tolist() == [1, 0]
    rejected = pd.read_csv(io.BytesIO(rejects.getvalue()))
    assert rejected["row"].tolist() == [2]
    assert rejected["reason"].tolist() == ["hours not a whole number in 0-99"]
    assert (summary.rows, summary.scored, summary.predicted, summary.rejected) == (3, 2, 1, 1)
    assert model.seen[0]["sector"].tolist()[0] == "private"  # stripped
    assert model.seen[0]["hours"].dtype.kind in "if"


def test_an_id_column_is_required_and_named_in_the_predictions():
    chunk = pd.DataFrame([{"key": "a", "hours": "5"}, {"hours": "5"}], dtype=object)
    assert invalid_rows(chunk, INPUTS, "key").tolist() == ["", "key missing"]
    assert invalid_rows(chunk, INPUTS, None).tolist() == ["", ""]
    predictions, rejects = io.BytesIO(), io.BytesIO()
    score_file(io.BytesIO(b"hours\n5\n"), Model(), predictions, rejects, INPUTS, "key")
    assert pd.read_csv(io.BytesIO(rejects.getvalue()))["reason"].tolist() == [
        "file lacks column(s) key"
    ]
    assert pd.read_csv(io.BytesIO(predictions.getvalue())).columns.tolist() == [
        "key",
        "predicted",
        "probability",
        "model_version",
    ]


def test_input_columns_types_each_input_by_its_kind():
    valid = pd.DataFrame({"hours": ["3"], "sector": [" state "]}, dtype=object)
    columns = input_columns(valid, INPUTS)
    assert columns["hours"].tolist() == [3] and columns["sector"].tolist() == ["state"]
    assert np.isnan(columns["rate"][0])  # an absent optional input: missing, numeric


def test_an_optional_category_the_file_lacks_is_missing_in_every_row():
    """A file without an optional category column (Titanic's Embarked) is scored, the
    category unknown, not a 500 from stripping a column that is not there."""
    source = b"hours,rate\n40,0.9\n"
    predictions, rejects, model = io.BytesIO(), io.BytesIO(), Model()

    summary = score_file(io.BytesIO(source), model, predictions, rejects, INPUTS, None, "approved")

    assert summary.scored == 1
    assert pd.isna(model.seen[0]["sector"][0])


def test_an_open_categorys_unseen_value_is_scored_and_a_required_gap_is_named():
    """An open category (core/contract.py) takes a value the model has never seen, up to its
    longest; a required input without a value is named missing, not misread as invalid."""
    sector = InputField(
        "sector", "category", "Sector.", required=True, allowed=("private", "state"), open=True
    )
    inputs = (INPUTS[0], sector, INPUTS[2])
    long = "x" * (sector.longest + 1)
    source = f"hours,sector,rate\n40, gig ,0.9\n41,,0.2\n,{long},0.3\n".encode()
    predictions, rejects, model = io.BytesIO(), io.BytesIO(), Model()

    summary = score_file(io.BytesIO(source), model, predictions, rejects, inputs, None, "approved")

    assert summary.scored == 1 and model.seen[0]["sector"].tolist() == ["gig"]
    rejected = pd.read_csv(io.BytesIO(rejects.getvalue()))
    assert rejected["row"].tolist() == [2, 3]
    assert rejected["reason"].tolist() == [
        "sector missing",
        "hours missing; sector longer than 100",
    ]
