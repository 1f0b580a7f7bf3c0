"""simplemma's German dictionary, decoded once when the environment is installed (issue 15).

simplemma ships its dictionaries front-coded and lzma-compressed; decoding the German one
takes 1.0–1.2 s of Python work in every run that builds text themes (1.1 million entries).
`make install` stores the decoded dictionary next to the installed packages
(`python -m transforms.themes.lemmas`), in `marshal` format, which loads in about a third
of the time and, unlike pickle, cannot run code. The file is named by simplemma's version
and read only if it is that version's; a missing or unreadable file means simplemma decodes
its own, as before. Either way the same dictionary answers through simplemma's own
lemmatiser, so lemmas do not depend on the file (tests/unit/test_lemmas.py).
"""

from __future__ import annotations

import marshal
import os
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from importlib.metadata import version
from pathlib import Path

LANG = "de"


@cache
def cache_path() -> Path:
    """Where the decoded dictionary lives: the environment's share folder, per version."""
    return Path(sys.prefix) / "share" / "lagebild" / f"simplemma-{version('simplemma')}-de.marshal"


def write_cache(path: Path | None = None) -> Path:
    """Decode simplemma's German dictionary and store it (atomically) at `path`. The decoder
    is simplemma's own, a private function of the pinned version (tests/unit/test_lemmas.py
    compares the lemmas)."""
    from simplemma.strategies.dictionaries.dictionary_factory import _load_dictionary_from_disk

    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = marshal.dumps(_load_dictionary_from_disk(LANG))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".simplemma-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)  # readable like the packages beside it
    os.replace(tmp, path)
    return path


def _read_cache(path: Path) -> dict[bytes, bytes] | None:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not data:
        return None
    key, value = next(iter(data.items()))
    return data if isinstance(key, bytes) and isinstance(value, bytes) else None


class _Decoded:
    """simplemma's DictionaryFactory protocol, answering German from the stored dictionary
    and every other language from simplemma's own factory."""

    def __init__(self, german: Mapping[str, str]) -> None:
        self.german = german

    def get_dictionary(self, lang: str) -> Mapping[str, str]:
        from simplemma.strategies.dictionaries.dictionary_factory import (
            DEFAULT_DICTIONARY_FACTORY,
        )

        if lang == LANG:
            return self.german
        return DEFAULT_DICTIONARY_FACTORY.get_dictionary(lang)


@cache
def _german(path: Path):
    """simplemma's lemmatiser (its default strategy, not greedy) and dictionary lookup, over
    the stored dictionary when `path` holds one, else over the one simplemma decodes."""
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
    from simplemma.strategies.dictionaries.dictionary_factory import (
        DEFAULT_DICTIONARY_FACTORY,
        MappingStrToByteString,
    )

    stored = _read_cache(path)
    factory = (
        DEFAULT_DICTIONARY_FACTORY if stored is None else _Decoded(MappingStrToByteString(stored))
    )
    lemmatizer = Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory))
    lookup = DictionaryLookupStrategy(factory)
    lookup.get_lemma("haus", LANG)  # the dictionary loaded now, not at the first token
    return lemmatizer, lookup


def load(path: Path | None = None) -> None:
    """Load the dictionary (the run does it in the background: pipelines.prewarm)."""
    _german(path or cache_path())


def lemmatize(token: str, path: Path | None = None) -> str:
    """simplemma's `lemmatize(token, lang="de")`."""
    return _german(path or cache_path())[0].lemmatize(token, LANG)


def is_known(token: str, path: Path | None = None) -> bool:
    """simplemma's `is_known(token, lang="de")` (for a non-empty token)."""
    from simplemma.utils import normalize_token

    return _german(path or cache_path())[1].get_lemma(normalize_token(token), LANG) is not None


if __name__ == "__main__":
    print(f"simplemma-Wörterbuch (Deutsch) gespeichert: {write_cache()}")
