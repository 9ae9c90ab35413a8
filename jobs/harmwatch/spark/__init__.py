"""The Spark engine of the data steps: the same lake, tables and decisions as the pandas engine.

``session`` builds the one SparkSession a step uses (from :class:`harmwatch.config.Settings`);
``engine`` decides whether a step runs on pandas or Spark. The Spark implementations of the steps
(``ingest``, ``validate``, ``build``; ``harmwatch predict`` scores on Spark too) do the scans,
group-bys and joins over the whole history in Spark and hand each group to the same pure pandas
functions the pandas engine uses (``mapInPandas``/``applyInPandas``), so a decision is written once.
"""
