"""A local SparkSession for trying bridge.spark on one machine (driver
side): Java found, not assumed; the executors' Python is this Python, with
this `bridge` importable.

On a cluster, use the cluster's session instead: R, the model's packages
and this package must be on every executor (docs/spark.md).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def java_home():
    """JAVA_HOME if it holds a java, else the JDK of the `java` on PATH,
    else Debian's openjdk-17; None when there is no Java at all."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return home
    java = shutil.which("java")
    if java:
        return str(Path(os.path.realpath(java)).parent.parent)
    for candidate in sorted(Path("/usr/lib/jvm").glob("java-17-openjdk-*")):
        if (candidate / "bin" / "java").is_file():
            return str(candidate)
    return None


def java_version(home):
    done = subprocess.run([str(Path(home) / "bin" / "java"), "-version"], capture_output=True, text=True)
    first = (done.stderr or done.stdout).splitlines()[0] if (done.stderr or done.stdout) else ""
    part = first.split('"')[1] if '"' in first else "0"
    return int(part.split(".")[0])


def local_session(master="local[*]", conf=None, app_name="r-bridge"):
    """A SparkSession on this machine; `conf`: {"spark.x": "value"}."""
    from pyspark.sql import SparkSession

    home = java_home()
    if home is None:
        raise RuntimeError("no Java found: Spark 4 needs Java 17 or later "
                           "(Debian: apt-get install openjdk-17-jre-headless)")
    if java_version(home) < 17:
        raise RuntimeError(f"{home}: Spark 4 needs Java 17 or later")
    os.environ["JAVA_HOME"] = home
    # The Python workers: this interpreter, and this package importable.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    path = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), path]))
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.ui.showConsoleProgress", "false"))
    for k, v in (conf or {}).items():
        builder = builder.config(k, v)
    return builder.getOrCreate()
