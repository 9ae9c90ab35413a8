"""What serves the data steps: landing files, parsing, Great Expectations suites and checks, the lake
catalog and its tables, dataset assembly and the weak-label policy, and the landing-zone simulator."""
