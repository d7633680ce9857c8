"""Output formats: system-style ASCII tables, json/yaml/value, --column, and the guarantee that
piped output is never wrapped or truncated."""

from __future__ import annotations

import json

import pytest
import yaml

from passnic.cli.client import CliError
from passnic.cli.output import OutputFormat, fields, print_list, print_show

ROWS = fields("name", "sriov_totalvfs", "ports", ("processor", "numa_node"), "pvendor")
PORT = {
    "name": "enp0s3",
    "sriov_totalvfs": None,
    "ports": ["enp0s3"],
    "numa_node": 0,
    "pvendor": "Intel Corporation [8086]",
}


def test_show_table_has_property_value_rows_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    print_show(PORT, ROWS)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("+-") and lines[1].split() == ["|", "Property", "|", "Value", "|"]
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[3:-1]]
    assert body == [
        ["name", "enp0s3"],
        ["sriov_totalvfs", "None"],
        ["ports", "['enp0s3']"],
        ["processor", "0"],
        ["pvendor", "Intel Corporation [8086]"],  # no Rich markup eaten
    ]


def test_list_table_uses_the_given_labels(capsys: pytest.CaptureFixture[str]) -> None:
    print_list([PORT], fields("name", ("pci address", "pciaddr")))
    out = capsys.readouterr().out
    assert "| name   | pci address |" in out
    assert "| enp0s3 | None        |" in out


def test_long_values_are_never_wrapped_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    long = ",".join(f"0000:00:{i:02x}.{i % 8}" for i in range(60))  # ~ 900 characters
    print_show({**PORT, "sriov_totalvfs": long}, ROWS)
    row = [line for line in capsys.readouterr().out.splitlines() if "sriov_totalvfs" in line]
    assert len(row) == 1 and long in row[0]
    assert not row[0].endswith(" ")  # no padding to the huge console width either


def test_json_yaml_value_formats(capsys: pytest.CaptureFixture[str]) -> None:
    print_show(PORT, ROWS, OutputFormat.json)
    assert json.loads(capsys.readouterr().out) == {
        "name": "enp0s3",
        "sriov_totalvfs": None,
        "ports": ["enp0s3"],
        "processor": 0,
        "pvendor": "Intel Corporation [8086]",
    }
    print_list([PORT, {**PORT, "name": "enp0s8"}], ROWS[:2], OutputFormat.yaml)
    assert yaml.safe_load(capsys.readouterr().out) == [
        {"name": "enp0s3", "sriov_totalvfs": None},
        {"name": "enp0s8", "sriov_totalvfs": None},
    ]
    print_list([PORT, {**PORT, "name": "enp0s8"}], ROWS[:3], OutputFormat.value)
    assert capsys.readouterr().out == "enp0s3 None ['enp0s3']\nenp0s8 None ['enp0s3']\n"
    print_show(PORT, ROWS[:2], OutputFormat.value)
    assert capsys.readouterr().out == "enp0s3\nNone\n"


def test_column_selects_in_table_order(capsys: pytest.CaptureFixture[str]) -> None:
    print_show(PORT, ROWS, OutputFormat.value, ["pvendor", "name"])
    assert capsys.readouterr().out == "enp0s3\nIntel Corporation [8086]\n"
    with pytest.raises(CliError, match=r"No such column: mac\. Columns are: name, sriov_totalvfs"):
        print_list([PORT], ROWS, OutputFormat.table, ["mac"])
