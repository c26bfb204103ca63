"""The Spark engine: floodmark's own codec, kernels and methods inside Arrow-batch
functions (``mapInArrow``, ``groupBy(...).applyInArrow``) over Spark DataFrames.

pyspark is optional (``pip install floodmark[spark]``, plus Java 17); importing this
package needs it, and ``require_pyspark`` names the extra when it is missing.
"""

from floodmark.spark.session import DEFAULT_MASTER, parse_conf, require_pyspark, spark_session

require_pyspark()

from floodmark.spark.backtest import spark_backtest  # noqa: E402
from floodmark.spark.features import SparkFeatures, spark_features  # noqa: E402
from floodmark.spark.frames import store_samples  # noqa: E402
from floodmark.spark.ingest import decode_export, spark_ingest  # noqa: E402
from floodmark.spark.recommend import spark_recommend  # noqa: E402

__all__ = [
    "DEFAULT_MASTER",
    "SparkFeatures",
    "decode_export",
    "parse_conf",
    "require_pyspark",
    "spark_backtest",
    "spark_features",
    "spark_ingest",
    "spark_recommend",
    "spark_session",
    "store_samples",
]
