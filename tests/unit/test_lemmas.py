"""simplemma's German dictionary stored at installation (transforms.themes.lemmas): the same
lemmas as simplemma's own, and a missing, damaged or foreign file changes nothing."""

from __future__ import annotations

import marshal
import pickle

import pytest
import simplemma

from transforms.themes import lemmas


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    return lemmas.write_cache(tmp_path_factory.mktemp("lemmas") / "de.marshal")


@pytest.fixture(scope="module")
def tokens():
    """Every 40th German entry, the same cut short, lengthened and capitalised, compounds
    with hyphens, and words simplemma does not know."""
    from simplemma.strategies.dictionaries.dictionary_factory import DEFAULT_DICTIONARY_FACTORY

    keys = list(DEFAULT_DICTIONARY_FACTORY.get_dictionary("de"))[::40]
    words = keys + [k[:-1] for k in keys[:5000]] + [k + "en" for k in keys[:5000]]
    words += [k.capitalize() for k in keys[:3000]] + [
        f"{a}-{b}" for a, b in zip(keys[:493], keys[7:500], strict=True)
    ]
    words += ["Zuständigkeiten", "Zustaendigkeit", "Therapieplätze", "xqzvw", "Häuser"]
    return [w for w in words if w]


def test_the_stored_dictionary_gives_simplemmas_lemmas(stored, tokens):
    assert [lemmas.lemmatize(t, stored) for t in tokens] == [
        simplemma.lemmatize(t, lang="de") for t in tokens
    ]
    assert [lemmas.is_known(t, stored) for t in tokens] == [
        simplemma.is_known(t, lang="de") for t in tokens
    ]


def test_the_file_is_named_by_simplemmas_version():
    from importlib.metadata import version

    assert lemmas.cache_path().name == f"simplemma-{version('simplemma')}-de.marshal"


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00kaputt", b"\xe3" + b"\x00" * 40, marshal.dumps({"haus": 1}), marshal.dumps([1])],
)
def test_a_missing_or_damaged_file_means_simplemma_decodes_its_own(tmp_path, content, tokens):
    damaged = tmp_path / "de.marshal"
    damaged.write_bytes(content)
    for path in (damaged, tmp_path / "fehlt.marshal"):
        sample = tokens[:2000]
        assert [lemmas.lemmatize(t, path) for t in sample] == [
            simplemma.lemmatize(t, lang="de") for t in sample
        ]


class _Runs:
    def __reduce__(self):
        import os

        return (os.mkdir, (str(_Runs.marker),))


def test_a_file_that_would_run_code_is_not_run(tmp_path):
    """marshal, not pickle: a planted pickle that would create a folder is refused."""
    _Runs.marker = tmp_path / "ausgefuehrt"
    planted = tmp_path / "de.marshal"
    planted.write_bytes(pickle.dumps({b"haus": _Runs()}))
    assert lemmas.lemmatize("Häuser", planted) == simplemma.lemmatize("Häuser", lang="de")
    assert not _Runs.marker.exists()
