"""Ingest: inbox -> landing -> parse -> identifier gate and contract validation -> staging."""
