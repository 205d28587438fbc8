"""What the driver knows of a model before the job runs (no R): its
checks (schema, argument allow-list, defaults) and its output columns, with
the Spark types they get. Found once by the probe (bridge/spark/probe.py)
and shipped to the executors with the bundle.

Outputs are typed from the example prediction: R doubles are doubles,
integers integers, logicals booleans, class labels strings; one column per
named output (class probabilities, interval bounds), never a blob.
"""

import dataclasses

ERROR_COLUMN = "_bridge_error"

SPARK_TYPES = {"number": "double", "integer": "int", "boolean": "boolean", "string": "string"}
PANDAS_TYPES = {"number": "Float64", "integer": "Int32", "boolean": "boolean", "string": "object"}


@dataclasses.dataclass(frozen=True)
class Plan:
    name: str
    kind: str                # "model" or "forecaster"
    schema: object           # bridge.schema.Schema
    outputs: tuple           # ((name, json type), ...) in R's order
    version: str = None

    @property
    def output_names(self):
        return [name for name, _ in self.outputs]


def spark_type(json_type):
    from pyspark.sql import types as T

    return {"double": T.DoubleType(), "int": T.IntegerType(), "boolean": T.BooleanType(),
            "string": T.StringType()}[SPARK_TYPES[json_type]]


def output_fields(outputs, names=None):
    """Spark fields for the outputs, under `names` (the safe names the job
    uses, bridge/spark/predict.py) or their own."""
    from pyspark.sql import types as T

    names = names or [n for n, _ in outputs]
    return [T.StructField(n, spark_type(t), True) for n, (_, t) in zip(names, outputs)]


def job_schema(df, keys, plan, on_error):
    """The schema a job returns: the kept (or grouping) columns under
    `_bridge_k<i>` with their Spark types, the outputs under `_bridge_o<i>`,
    and the error column when rows are rejected rather than stopping."""
    from pyspark.sql import types as T

    fields = {f.name: f for f in df.schema.fields}
    out = [T.StructField(f"_bridge_k{i}", fields[c].dataType, True) for i, c in enumerate(keys)]
    out += output_fields(plan.outputs, [f"_bridge_o{i}" for i in range(len(plan.outputs))])
    if on_error == "reject":
        out.append(T.StructField(ERROR_COLUMN, T.StringType(), True))
    return T.StructType(out)


def typed(values, json_type):
    """A column of R's values as the pandas dtype Arrow turns into the Spark
    type (None is null, never NaN)."""
    import pandas as pd

    if json_type == "string":
        return pd.Series([None if v is None else str(v) for v in values], dtype=object)
    if json_type == "number":
        return pd.Series(pd.array([None if v is None else float(v) for v in values], dtype="Float64"))
    return pd.Series(pd.array(values, dtype=PANDAS_TYPES[json_type]))
