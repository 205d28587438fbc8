"""R models scored on Apache Spark, with the HTTP path's checks and answers.

    from bridge import spark as bridge_spark
    scored = bridge_spark.predict(df, "models/churn.rds", args={"type": "response"})

Driver side (no R in this process): `predict` (bridge/spark/predict.py),
`forecast` (bridge/spark/forecast.py), `local_session` (session.py),
`read_log` (log.py: the prediction log as one DataFrame). The
executor side runs in Spark's Python workers (executor.py, grouped.py),
each with one R worker process of its own.
"""

from .forecast import forecast
from .log import read_log
from .predict import predict
from .session import local_session

__all__ = ["predict", "forecast", "local_session", "read_log"]
