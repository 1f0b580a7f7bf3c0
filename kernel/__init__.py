"""The Dagster-free kernel every layer shares: settings, the workspace layout, warehouse
connections and the errors a user can fix.

Layers (tests/unit/test_layers.py enforces them): `data_contracts` imports nothing of ours;
`kernel` imports only `data_contracts`; `transforms` imports `kernel` and `data_contracts`;
`pipelines` (Dagster, ingest, command line) and `dashboards` (the read side) sit on top.
"""
