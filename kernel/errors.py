"""Errors a user can act on: printed as one German sentence, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the command line prints it and exits with code 2."""
