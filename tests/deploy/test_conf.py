"""The Splunk .conf reader and writer, and reading a built app package with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghosthire.deploy.splunk_package import is_admin_owned_macro, load_package
from ghosthire.errors import ContentError
from ghosthire.splunk.conf import parse_conf, read_conf, render_conf, with_defaults
from tests.deploy.conftest import write_package


def test_stanzas_keys_comments_and_continuations() -> None:
    text = (
        "# a comment\n"
        "global_key = applies to default\n"
        "[Ghosthire - RMM]\n"
        "search = index=main \\\n"
        "| stats count by host \\\n"
        "    | where count > 1\n"
        "description = uses # inside a value\n"
        "   # an indented comment\n"
        "empty =\n"
        "[Ghosthire - RMM]\n"
        "description = last one wins\n"
    )
    stanzas = parse_conf(text)
    assert stanzas["default"] == {"global_key": "applies to default"}
    assert stanzas["Ghosthire - RMM"] == {
        "search": "index=main \n| stats count by host \n    | where count > 1",
        "description": "last one wins",
        "empty": "",
    }


def test_default_stanza_is_inherited() -> None:
    stanzas = parse_conf("[default]\na = 1\nb = 2\n[x]\nb = 3\n")
    assert with_defaults(stanzas) == {"x": {"a": "1", "b": "3"}}


def test_errors_name_file_and_line() -> None:
    with pytest.raises(ContentError, match=r"macros\.conf:3: expected `key = value`"):
        parse_conf("[m]\ndefinition = x\nnot a setting\n", "macros.conf")
    with pytest.raises(ContentError, match=r"macros\.conf:1: .*no closing"):
        parse_conf("[m\n", "macros.conf")


def test_read_conf_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "macros.conf"
    path.write_text("[ok]\ndefinition = x\n", encoding="utf-8")
    assert read_conf(path) == {"ok": {"definition": "x"}}
    path.write_text("[ok]\nbroken\n", encoding="utf-8")
    with pytest.raises(ContentError, match=rf"{path}:2"):
        read_conf(path)


def test_render_round_trips_multiline_values() -> None:
    stanzas = {"s": {"search": "index=main\n| stats count", "cron_schedule": "*/5 * * * *"}, "": {"k": "v"}}
    text = render_conf(stanzas)
    assert "search = index=main\\\n| stats count\n" in text
    assert parse_conf(text) == stanzas


@pytest.mark.parametrize(
    ("stanzas", "problem"),
    [
        ({"s": {"bad key": "v"}}, "key 'bad key'"),
        ({"s": {"k": "ends with a backslash\\"}}, "would not read back"),
        ({"s": {"k": " padded"}}, "would not read back"),
        ({"two\nlines": {}}, "stanza name"),
    ],
)
def test_render_refuses_what_would_not_read_back(stanzas: dict[str, dict[str, str]], problem: str) -> None:
    with pytest.raises(ContentError, match=problem):
        render_conf(stanzas, "savedsearches.conf")


def test_package_objects_in_install_order(package: Path) -> None:
    loaded = load_package(package)
    kinds = [obj.kind.name for obj in loaded.objects]
    assert kinds == sorted(
        kinds, key=["collection", "transform", "macro", "savedsearch", "view", "nav"].index
    )
    assert loaded.app_attributes == {
        "label": "Ghosthire",
        "visible": "true",
        "description": "Detections for fraudulent remote IT workers",
        "author": "ghosthire",
    }
    by_id = {obj.object_id: obj for obj in loaded.objects}
    search = by_id["savedsearch:Ghosthire - RMM tool not company standard"]
    assert search.attributes["dispatch.earliest_time"] == "-24h@h"  # from [default]
    assert (
        search.attributes["search"].splitlines()[1]
        == '| eval process_name=lower(mvindex(split(Image, "\\\\"), -1)) '
    )
    assert search.acl.sharing == "app" and search.acl.write == ("admin", "sc_admin")
    assert by_id["macro:ghosthire_rmm_filter"].acl.sharing == "global"  # [macros] export = system


def test_csv_lookup_becomes_kv_store_collection_and_definition(package: Path) -> None:
    by_id = {obj.object_id: obj for obj in load_package(package).objects}
    collection = by_id["collection:ghosthire_rmm_tools"]
    assert collection.attributes == {"field.process_name": "string", "field.vendor": "string"}
    assert collection.rows is not None and collection.rows[0] == {
        "process_name": "anydesk.exe",
        "vendor": "AnyDesk",
    }
    assert by_id["transform:ghosthire_rmm_tools"].attributes == {
        "case_sensitive_match": "false",
        "external_type": "kvstore",
        "collection": "ghosthire_rmm_tools",
        "fields_list": "process_name,vendor",
    }


def test_broken_packages_are_content_errors(tmp_path: Path) -> None:
    missing_csv = write_package(tmp_path / "a", {"lookups/ghosthire_rmm_tools.csv": ""})
    with pytest.raises(ContentError, match="no header row"):
        load_package(missing_csv)
    bad_conf = write_package(tmp_path / "b", {"default/macros.conf": "[m]\nno equals sign\n"})
    with pytest.raises(ContentError, match=r"default/macros\.conf:2"):
        load_package(bad_conf)
    not_a_tar = tmp_path / "app.tgz"
    not_a_tar.write_text("hello")
    with pytest.raises(ContentError, match="not a readable app package"):
        load_package(not_a_tar)


@pytest.mark.parametrize(
    ("name", "owned"),
    [
        ("ghosthire_rmm_filter", True),
        ("ghosthire_geo_filter(1)", True),
        ("ghosthire_src_okta", True),
        ("ghosthire_rmm_tools", False),
        ("ghosthire_filters_helper", False),
    ],
)
def test_admin_owned_macro_rule(name: str, owned: bool) -> None:
    assert is_admin_owned_macro(name) is owned
