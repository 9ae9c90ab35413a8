"""The local development stack: embedded Airflow for `make demo`/`make up`, the demo itself, and the servers
the tests and benchmarks start (all on 127.0.0.1). Run its modules from the repository root
(``python -m devstack.demo``); nothing here is part of the job image."""
