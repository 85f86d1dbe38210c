"""The application: settings and wiring, the ingest edge and its server, serve, the CLI, operations."""
