"""bridge.client.Client against a real server on the fixture models."""

import datetime as dt
import json

import pandas as pd
import pytest

from bridge.client import (
    AuthenticationError,
    BridgeConnectionError,
    Client,
    InvalidInputError,
    ModelNotFoundError,
)
from conftest import copy_model, free_port


@pytest.fixture(scope="module")
def server(fixtures_server):
    return fixtures_server


@pytest.fixture(scope="module")
def bridge(server):
    return Client(server.url)


def case(fixture_models, name):
    return json.loads((fixture_models / f"{name}.case.json").read_text())


def test_vector_predictions_are_a_series_with_the_frames_index(bridge, fixture_models):
    c = case(fixture_models, "lm_factor")
    df = pd.DataFrame(c["rows"], index=[f"car{i}" for i in range(len(c["rows"]))])
    got = bridge.predict("lm_factor", df)
    assert isinstance(got, pd.Series)
    assert list(got.index) == list(df.index)
    expected = pd.Series(c["expected"], index=df.index, name="prediction", dtype="float64")
    pd.testing.assert_series_equal(got, expected, check_exact=True)


def test_per_row_objects_are_a_dataframe(bridge, fixture_models):
    c = case(fixture_models, "randomforest_class_prob")
    got = bridge.predict("randomforest_class", pd.DataFrame(c["rows"]), **c["args"])
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, pd.DataFrame(c["expected"]), check_dtype=False)


def test_pandas_types_are_sent_as_r_reads_them(bridge, fixture_models):
    c = case(fixture_models, "lm_types")
    df = pd.DataFrame(c["rows"])
    # Dates as pandas reads them (datetime64), counts as numpy integers, flags as bool.
    df["day"] = pd.to_datetime(df["day"])
    df["count"] = df["count"].astype("int64")
    got = bridge.predict("lm_types", df)
    assert got.tolist() == c["expected"]
    df["day"] = [d.date() for d in df["day"]]
    assert bridge.predict("lm_types", df).tolist() == c["expected"]


def test_categoricals_and_missing_values(bridge, fixture_models):
    c = case(fixture_models, "lm_factor")
    df = pd.DataFrame(c["rows"])
    df["cyl"] = df["cyl"].astype("category")
    df["wt"] = df["wt"].astype("float64")  # None -> NaN
    got = bridge.predict("lm_factor", df)
    assert [None if v != v else v for v in got.tolist()] == c["expected"]


def test_list_of_rows(bridge, fixture_models):
    c = case(fixture_models, "rpart_class")
    assert bridge.predict("rpart_class", c["rows"], **c["args"]).tolist() == c["expected"]


def test_models_and_schema(bridge):
    names = {m["name"] for m in bridge.models()}
    assert {"lm_factor", "multi.first", "multi.second"} <= names
    cols = bridge.schema("lm_factor")
    assert [(c["name"], c["type"]) for c in cols] == [
        ("wt", "numeric"), ("cyl", "factor"), ("power", "ordered"), ("gear", "integer")]
    assert bridge.describe("multi.first")["object"] == "first"


def test_errors_carry_the_servers_message(bridge, fixture_models):
    with pytest.raises(ModelNotFoundError) as err:
        bridge.predict("nope", pd.DataFrame({"x": [1]}))
    assert err.value.status == 404
    assert "no model named 'nope'" in err.value.description
    rows = case(fixture_models, "lm_factor")["rows"][:2]
    rows[1] = {**rows[1], "cyl": "5"}
    with pytest.raises(InvalidInputError) as err:
        bridge.predict("lm_factor", pd.DataFrame(rows))
    assert err.value.status == 422
    assert err.value.title == "Input does not fit the model"
    assert "column 'cyl', row 2" in err.value.description
    assert err.value.body["allowed_levels"] == ["4", "6", "8"]
    with pytest.raises(ModelNotFoundError):
        bridge.schema("nope")


def test_unreachable_server():
    with pytest.raises(BridgeConnectionError, match="cannot reach the bridge"):
        Client(f"http://127.0.0.1:{free_port()}", timeout=5).models()


def test_api_key_is_sent_as_a_bearer_token(start_server, model_dir, fixture_models):
    copy_model(fixture_models / "lm_factor.rds", model_dir)
    server = start_server(model_dir, env={"BRIDGE_API_KEYS": "s3cret"})
    with pytest.raises(AuthenticationError) as err:
        Client(server.url).models()
    assert err.value.status == 401
    assert [m["name"] for m in Client(server.url, api_key="s3cret").models()] == ["lm_factor"]


def test_timestamps_keep_their_time(bridge):
    from bridge.client import _json_default

    assert _json_default(pd.Timestamp("2024-05-01 12:30")) == "2024-05-01T12:30:00"
    assert _json_default(pd.Timestamp("2024-05-01")) == "2024-05-01"
    assert _json_default(dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)) == "2024-05-01T00:00:00+00:00"
