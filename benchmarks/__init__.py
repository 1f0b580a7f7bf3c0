"""`make bench`: the pipeline, the marts, the dashboard queries and a pandas baseline, timed
against the raw-scan floor. Benchmark code lives here and nowhere else."""
