"""The YAML files that come with the code, read by libyaml's parser: the same documents as
PyYAML's own safe loader, and still safe."""

from __future__ import annotations

import pytest
import yaml

from data_contracts.contract import CONTRACT_FILE, REGIONS_FILE, read_yaml
from transforms.dictionary import MARTS_FILE


@pytest.mark.parametrize("path", [CONTRACT_FILE, MARTS_FILE, REGIONS_FILE], ids=lambda p: p.name)
def test_a_bundled_file_reads_as_with_the_safe_loader(path):
    assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_fast_parser_is_used_where_pyyaml_has_it():
    from data_contracts import contract

    assert contract._LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


def test_no_python_object_is_built_from_a_file(tmp_path):
    hostile = tmp_path / "marts.yaml"
    hostile.write_text("x: !!python/object/apply:os.system ['touch /tmp/owned']\n")
    with pytest.raises(yaml.constructor.ConstructorError):
        read_yaml(hostile)
