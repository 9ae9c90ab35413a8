"""`make bench`: what a retrain costs on the real dataset, and how the cost grows with data.

Every step runs as the real ``harmwatch`` command in a fresh process, as the DAG's local runner runs
it. Wall time is measured around the process; peak memory is ``ru_maxrss`` from ``wait4`` on that
process (the largest single process of the step's tree: the step, or a child it waited for); CPU
time is user + system of the step and its children. Each record carries the 1-minute load average
seen when it started (the machine is shared). Figures are medians of several runs. Sections:

1. ``steps``: each step on the full dataset: the bulk day (ingest, validate, build-dataset, the
   first train and evaluate, promote), then day 2 as the DAG runs it with a champion in place
   (ingest, validate, build-dataset on the whole dataset, train, evaluate against the champion,
   promote, drift), and batch scoring of the bulk by the champion (``score``);
   ``quality`` (macro-F1 and per-class F1 on the frozen evaluation snapshot) comes with it.
2. ``dag``: the retrain DAG through Airflow (``airflow dags test``, local runner; or make up's
   scheduler) next to the sum of its steps' own times.
3. ``serving``: batch scoring throughput and single-post latency in-process (in a probe process of
   its own), and through ``mlflow models serve`` on 127.0.0.1.
4. ``scaling``: the bulk-day chain at 1x, 4x and 16x the data (distinct post ids, lightly perturbed
   texts so deduplication does not collapse them), time and peak memory per step, plus a PNG plot.
5. ``drift``: ``harmwatch drift`` on real files (the 43k-post CSV against 10,000 TweetEval posts, and
   a 10,000-post split of the CSV against the rest), with and without a byte-code cache, and in-process.

Writes <results>/<section>.json and <results>/README.md + targets.json (default bench/results).
Sections not run this time are taken from their existing JSON, so sections can be (re)run one at a
time; ``--sections`` with no name rewrites the report only. ``--quick`` is one repetition, 1x and 4x
only and fewer requests: a correctness run, not a measurement (write it elsewhere with ``--results``).
Run from the repository root: ``python -m bench``.

Layout: :mod:`bench.core` (measuring one step), :mod:`bench.targets` (the list of targets),
:mod:`bench.report` (README, targets.json, plot), :mod:`bench.sections` (one module per section).
"""
