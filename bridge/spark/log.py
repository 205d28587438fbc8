"""The prediction log (`--log-predictions DIR`, docs/monitoring.md) as one
Spark DataFrame, on the driver (no R).

    from bridge.spark import read_log
    calls = read_log(spark, "/var/log/bridge/predictions")

`spark.read.option("recursiveFileLookup", "true").parquet(DIR)` reads the
whole log while every column has one type in every file; where two models
(or two versions of one) log a column with different types, a number in one
and text in the other, Spark refuses the folder: it does not cast a file to
the log's union type as pyarrow does. Here each model's folder is read with
its own types (file by file where its own files differ), a column whose types
differ is cast to the type they share (numbers: double) or else to string,
and the parts are stacked by column name: every row and every column, values
that differ in type as text, as `pandas.read_parquet(DIR)` gives them.
"""

from functools import reduce
from pathlib import Path

NUMBERS = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType")


def read_log(spark, path):
    """Every call in the log folder `path` as one DataFrame (see above)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no prediction log folder at {root}")
    parts = []
    # `_unresolved/` (names no model has) and `!schema/` are not a model's calls.
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[:1] not in "_.!"):
        files = sorted(str(f) for f in folder.glob("*.parquet"))
        if files:
            parts.extend(_read(spark, files))
    if not parts:
        raise FileNotFoundError(f"no prediction log files under {root}")
    types = {}
    for part in parts:
        for field in part.schema.fields:
            types.setdefault(field.name, set()).add(field.dataType)
    target = {name: _common(kinds) for name, kinds in types.items() if len(kinds) > 1}
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True),
                  [_cast(part, target) for part in parts])


def _read(spark, files):
    """One model's files as one frame, or one frame per file when their
    types do not merge."""
    try:
        return [spark.read.option("mergeSchema", "true").parquet(*files)]
    except Exception as exc:
        if "merge" not in str(exc).lower() and "incompatible" not in str(exc).lower():
            raise
        return [spark.read.parquet(f) for f in files]


def _common(kinds):
    from pyspark.sql.types import DoubleType, StringType

    if all(type(k).__name__ in NUMBERS for k in kinds):
        return DoubleType()
    return StringType()


def _cast(part, target):
    from pyspark.sql import functions as F

    def column(name):
        col = F.col(f"`{name.replace('`', '``')}`")
        return col.cast(target[name]).alias(name) if name in target else col

    return part.select([column(name) for name in part.columns])
