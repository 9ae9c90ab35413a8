"""What counts as submitted configuration when no JVM runs yet: ``spark-defaults.conf`` and
``PYSPARK_SUBMIT_ARGS``, read without starting Spark (the JVM then starts once, with harmwatch's
defaults for what they leave unset)."""

from __future__ import annotations

from harmwatch.spark.session import _file_conf, _submit_args_conf


def test_submit_args_give_conf_and_the_flags_that_stand_for_keys(tmp_path) -> None:
    props = tmp_path / "extra.conf"
    props.write_text("spark.executor.memory 6g\nspark.driver.memory 3g\n")
    args = (
        "--master local[4] --driver-memory 5g --conf spark.sql.shuffle.partitions=64 "
        f"-c spark.ui.enabled=true --properties-file {props} --driver-java-options '-Xss4m -Dx=1' "
        "pyspark-shell"
    )
    assert _submit_args_conf(args) == {
        "spark.master": "local[4]",
        "spark.driver.memory": "5g",  # a flag wins over the properties file
        "spark.sql.shuffle.partitions": "64",
        "spark.ui.enabled": "true",
        "spark.executor.memory": "6g",
        "spark.driver.extraJavaOptions": "-Xss4m -Dx=1",
    }
    assert _submit_args_conf("pyspark-shell") == {}


def test_defaults_file_lines(tmp_path) -> None:
    path = tmp_path / "spark-defaults.conf"
    path.write_text(
        "# a comment\n\nspark.sql.shuffle.partitions   32\nspark.driver.memory=4g\n"
        "spark.driver.extraJavaOptions -XX:+UseG1GC -Dy=2\nnot.spark x\n"
    )
    assert _file_conf(path) == {
        "spark.sql.shuffle.partitions": "32",
        "spark.driver.memory": "4g",
        "spark.driver.extraJavaOptions": "-XX:+UseG1GC -Dy=2",
    }
    assert _file_conf(tmp_path / "absent.conf") == {}
