"""The store and its guards: DuckDB store (all SQL), de-identification, access roles, audit trail, safe exports."""
