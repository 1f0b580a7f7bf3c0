"""Fingerprints of the code behind a kept result (the grid's and the text model's memos).

A memo may only be reused by the code that made it: the fingerprint covers the source files
that decide the result, the versions of the libraries that compute it and Python's version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
from collections.abc import Iterable
from pathlib import Path


def code_digest(salt: str, files: Iterable[Path], dists: Iterable[str]) -> str:
    """SHA-256 over `salt`, Python's version, the files' names and bytes (read now) and the
    installed versions of `dists` ("-" for one that is not installed)."""
    digest = hashlib.sha256(f"{salt}\0{sys.version}\0".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for dist in dists:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{dist}={version}\0".encode())
    return digest.hexdigest()
