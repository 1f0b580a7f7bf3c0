"""Exchange format v1: the machine-readable contract and what is generated from it."""

from data_contracts.contract import (
    CodeList,
    Column,
    Contract,
    Table,
    load_contract,
    normalise_header,
    region_label,
    region_names,
)

__all__ = [
    "CodeList",
    "Column",
    "Contract",
    "Table",
    "load_contract",
    "normalise_header",
    "region_label",
    "region_names",
]
