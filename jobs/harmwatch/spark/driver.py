"""The driver program of a SparkApplication: ``driver.py <step> <args>`` runs ``harmwatch <step> <args>``.

The Spark operator submits a Python file rather than a console script; this file is that program, so a
step behaves the same under spark-submit as in a pod or a local process (one JSON summary line on
stdout, one error line on stderr). The master comes from spark-submit (``HARMWATCH_SPARK_MASTER`` is
empty in the SparkApplication templates, ``dags/spark/``).
"""

from harmwatch.cli import entry

if __name__ == "__main__":
    entry()
