"""Placeholder: filled in by the stage that owns it."""
