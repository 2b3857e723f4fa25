"""Good task files: defaults, anchors, merge keys, ``${VAR}``, JSON-only scalars, the schema.

Each scenario is a file under ``tests/fixtures/config/valid``; the problems of bad files are in
``test_config_errors.py`` and the round-trip law in ``test_config_properties.py``.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from tasksync import config
from tasksync.cli import Env, main
from tasksync.config import validation, yamlread
from tasksync.errors import ConfigError
from tasksync.model import Location, TaskRef

FIXTURES = Path(__file__).parent / "fixtures" / "config"
VALID = FIXTURES / "valid"
EXAMPLE = Path(__file__).parent.parent / "tasks.example.yaml"
ENV = {"TOKEN": "t0k", "NEWS_API_KEY": "k-1"}


def run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, environ=environ or {}))
    return int(code), out.getvalue(), err.getvalue()


def test_full_file_gives_the_expected_specs() -> None:
    path = str(VALID / "full.yaml")
    cfg = config.load(path, environ=ENV)
    assert cfg.path == path
    assert cfg.safety == config.Safety(max_changed_fraction=0.5, min_tasks=3)
    daily, weekly, mine, by_id = cfg.tasks
    proxy = {"useApifyProxy": True, "apifyProxyGroups": ["RESIDENTIAL"]}
    authorization = "Bearer ${TOKEN}"

    assert daily.ref == TaskRef.parse("janedoe~news-daily")
    assert daily.desired == {
        # memoryMbytes: null in the task unsets the default; null is kept
        "options": {"build": "latest", "memoryMbytes": None, "timeoutSecs": 600},
        "input": {
            "proxyConfiguration": proxy,
            "headers": {"authorization": "Bearer t0k", "accept": "text/html"},
            "startUrls": [{"url": "https://example.com/news"}],  # lists replace
            "apiKey": "k-1",
            "note": "costs ${PRICE}, and no fallback secret",
        },
    }
    assert daily.input_mode == "replace" and daily.actor is None
    assert daily.ignore == ("/input/cursor",)
    assert daily.env_refs == {
        "/input/headers/authorization": authorization,
        "/input/apiKey": "${NEWS_API_KEY}",
    }
    assert daily.sensitive == {"/input/password", *daily.env_refs}
    assert daily.location == Location(path, 19, 5)

    assert weekly.key == "janedoe~news-weekly"  # username/name means username~name
    assert weekly.desired == {
        "title": "Weekly news",  # ${EDITION:-news}, EDITION unset
        "description": "Every article of the week.",
        # the merge key brought timeoutSecs and maxItems; the explicit maxItems wins
        "options": {
            "build": "latest",
            "memoryMbytes": 1024,
            "timeoutSecs": 300,
            "maxItems": 500,
            "restartOnError": True,
        },
        "input": {
            "proxyConfiguration": proxy,
            "headers": {"authorization": "Bearer t0k", "accept": "application/json"},
            "startUrls": [],
        },
    }
    assert (weekly.input_mode, weekly.actor) == ("merge", "apify~web-scraper")
    assert weekly.env_refs == {"/input/headers/authorization": authorization}
    assert weekly.sensitive == {"/input/headers/authorization"}

    # A task value that is not a mapping replaces the default mapping, secret and all.
    assert mine.ref == TaskRef(text="~mine", name="mine")
    assert mine.desired["input"]["headers"] == "skip-the-default-headers"
    # A fallback is written in the file: not a secret.
    assert mine.desired["input"]["startUrls"] == [{"url": "https://example.com/"}]
    assert mine.env_refs == {} and mine.sensitive == frozenset()

    assert by_id.ref.id == "E2ME8CqpSr1GWxnf3"
    assert by_id.desired["options"] == {"build": "latest", "memoryMbytes": 1024}
    assert by_id.env_refs == {"/input/headers/authorization": authorization}


def test_tasks_share_no_mutable_value() -> None:
    cfg = config.load(VALID / "full.yaml", environ=ENV)
    daily, weekly, _, by_id = cfg.tasks
    daily.desired["input"]["proxyConfiguration"]["useApifyProxy"] = False
    assert weekly.desired["input"]["proxyConfiguration"]["useApifyProxy"] is True
    by_id.desired["options"]["build"] = "beta"
    assert weekly.desired["options"]["build"] == "latest"


def test_scalars_are_json_types_only() -> None:
    cfg = config.load(VALID / "yaml-types.yaml", environ={})
    assert cfg.tasks[0].desired["input"] == {
        "int": 42,
        "negative": -7,
        "plus": 3,
        "float": 1.5,
        "exponent": 1000.0,
        "leadingDot": 0.5,
        "bool": True,
        "boolCaps": False,
        "nullValue": None,
        "tilde": None,
        "empty": None,
        # no datetime objects, no YAML 1.1 booleans, octals, sexagesimals or underscores
        "date": "2024-01-01",
        "datetime": "2001-12-14t21:59:43.10-05:00",
        "yes": "yes",
        "off": "off",
        "norway": "NO",
        "octal": "0o17",
        "leadingZero": "012",
        "underscore": "1_000",
        "hex": "0x1F",
        "exponentOnly": "1e5",
        "sexagesimal": "1:30",
        "quotedInt": "42",
        "strTag": "42",
        "intTag": 42,
        "floatTag": 3.0,
        "nullTag": None,
        "nonSpecific": "12",
        "merge": "<<",
        "mergeInList": ["<<", {"a": 1}],
        "equals": "=",
        "literal": "two\nlines\n",
        "folded": "one line",
        "list": [1, "two", 3.0, False, None],
    }


def test_the_pure_python_parser_gives_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("full.yaml", "yaml-types.yaml")
    with_libyaml = [config.load(VALID / name, environ=ENV) for name in names]
    monkeypatch.setattr(yamlread, "_Parser", yaml.SafeLoader)
    without = [config.load(VALID / name, environ=ENV) for name in names]
    assert without == with_libyaml


def test_integral_floats_in_integer_options_become_integers() -> None:
    text = "version: 1\ntasks: [{task: ~abc, options: {timeoutSecs: 60.0, memoryMbytes: 1024.0}}]"
    options = config.load_text(text, environ={}).tasks[0].desired["options"]
    assert options == {"timeoutSecs": 60, "memoryMbytes": 1024}
    assert all(type(v) is int for v in options.values())


def test_load_text_accepts_bytes_and_names_the_file() -> None:
    text = b"version: 1\ntasks: [{task: ~abc, title: caf\xc3\xa9}]\n"
    cfg = config.load_text(text, filename="inline.yaml", environ={})
    assert cfg.path == "inline.yaml"
    assert cfg.tasks[0].desired == {"title": "café"}
    assert cfg.tasks[0].location == Location("inline.yaml", 2, 9)
    assert cfg.safety == config.Safety()


def test_empty_task_list_and_a_byte_order_mark() -> None:
    assert config.load_text("\ufeffversion: 1\ntasks: []\n", environ={}).tasks == ()


def test_expand() -> None:
    environ = {"A": "1", "EMPTY": ""}
    assert config.expand("x${A}y${B:-2}$${A}", environ) == "x1y2${A}"
    assert config.expand("${EMPTY:-fallback}", environ) == "fallback"
    assert config.expand("${EMPTY}", environ) == ""
    with pytest.raises(ConfigError) as caught:
        config.expand("${NOPE}", environ)
    assert "NOPE is not set" in caught.value.problems[0].message


def test_validate_command_on_the_example_without_environment() -> None:
    code, out, err = run("validate", str(EXAMPLE))
    assert (code, err) == (0, "")
    assert out == f"{EXAMPLE}: valid, 6 tasks\n"


def test_example_reads_its_secret_from_the_environment_when_set() -> None:
    plain = config.load(EXAMPLE, environ={})
    secret = config.load(EXAMPLE, environ={"CRAWLER_API_KEY": "s3cret"})
    docs = next(t for t in plain.tasks if t.key == "janedoe~docs-crawl")
    assert docs.desired["input"]["apiKey"] == "demo-key" and not docs.env_refs
    docs = next(t for t in secret.tasks if t.key == "janedoe~docs-crawl")
    assert docs.desired["input"]["apiKey"] == "s3cret"
    assert docs.env_refs == {"/input/apiKey": "${CRAWLER_API_KEY:-demo-key}"}
    assert "/input/apiKey" in docs.sensitive
    assert [t.actor for t in plain.tasks].count("apify~web-scraper") == 1
    assert {t.input_mode for t in plain.tasks} == {"replace", "merge"}


def test_schema_command_prints_a_valid_draft_2020_12_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    printed = json.loads(out)
    assert printed == config.schema()
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(printed)
    # Editors validate the raw document with exactly this schema.
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert list(Draft202012Validator(printed).iter_errors(example)) == []


UNREADABLE = {
    "billion-laughs.yaml",
    "comments-only.yaml",
    "control-character.yaml",
    "deep-nesting.yaml",
    "empty.yaml",
    "env-in-flow.yaml",
    "invalid-utf8.yaml",
    "multiple-documents.yaml",
    "syntax-error.yaml",
    "tabs.yaml",
}
"""Invalid fixtures that are refused before the schema: there is no document to judge."""


@pytest.mark.parametrize(
    "name", [*sorted(p.name for p in (FIXTURES / "invalid").glob("*.yaml")), "../valid/full.yaml"]
)
def test_compiled_schema_agrees_with_the_published_one(name: str) -> None:
    """The loader validates with the $ref-inlined copy; editors with the file: same verdicts."""
    data = (FIXTURES / "invalid" / name).read_bytes()
    if name in UNREADABLE:
        # Not a silent pass: the file must really be unreadable (its message is checked by
        # test_config_errors.py); one that becomes readable must leave the list.
        with pytest.raises((yamlread.Unreadable, UnicodeDecodeError)):
            yamlread.read(data, data.decode("utf-8"))
        return
    document = yamlread.read(data, data.decode("utf-8"))
    published = Draft202012Validator(config.schema())

    def verdicts(errors: object) -> set[tuple[tuple[object, ...], str]]:
        return {(tuple(e.absolute_path), e.validator) for e in errors}  # type: ignore[attr-defined]

    compiled = validation._validator()
    assert verdicts(compiled.iter_errors(document.value)) == verdicts(
        published.iter_errors(document.value)
    )


# -- without secrets, reserved variables, added lists, JSON files ---------------------------------

SECRETS = (
    "version: 1\n"
    "defaults:\n"
    "  input: {token: '${API_TOKEN}'}\n"
    "tasks:\n"
    "  - task: janedoe~news-daily\n"
    "    input: {url: 'https://${HOST}/news', fallback: '${UNSET:-ok}'}\n"
    "  - task: janedoe~news-weekly\n"
    "    title: Weekly ${API_TOKEN}\n"
)


def test_validate_without_secrets_notes_unset_variables_as_placeholders() -> None:
    with pytest.raises(ConfigError, match="API_TOKEN is not set"):
        config.load_text(SECRETS, filename="t.yaml", environ={})  # plan and apply need them
    cfg = config.load_text(SECRETS, filename="t.yaml", environ={}, require_env=False)
    assert [(n.file, n.line, n.path) for n in cfg.notes] == [
        ("t.yaml", 3, "defaults.input.token"),
        ("t.yaml", 6, "tasks[0].input.url"),
    ]
    assert cfg.notes[0].message.startswith(
        "the environment variable API_TOKEN is not set (also used at tasks[1].title); "
        "plan and apply will need it"
    )
    daily, weekly = cfg.tasks
    assert daily.desired["input"] == {
        "token": "${API_TOKEN}",
        "url": "https://${HOST}/news",
        "fallback": "ok",
    }
    assert daily.env_refs == {"/input/token": "${API_TOKEN}", "/input/url": "https://${HOST}/news"}
    assert daily.sensitive == set(daily.env_refs)
    assert weekly.desired["title"] == "Weekly ${API_TOKEN}" and "/title" in weekly.sensitive
    environ = {"API_TOKEN": "t", "HOST": "h"}
    assert config.load_text(SECRETS, environ=environ, require_env=False).notes == ()


def test_variables_tasksync_reads_are_refused_and_never_read() -> None:
    text = "version: 1\ntasks:\n  - task: ~abc\n    input: {key: '${APIFY_TOKEN}'}\n"
    environ = {"APIFY_TOKEN": "s3cret"}
    for require_env in (True, False):
        with pytest.raises(ConfigError) as caught:
            config.load_text(text, environ=environ, require_env=require_env)
        (problem,) = caught.value.problems
        assert (problem.line, problem.path) == (4, "tasks[0].input.key")
        assert "is the API token" in problem.message and "s3cret" not in str(caught.value)
    for name in ("APIFY_TOKEN", "APIFY_API_BASE_URL", "TASKSYNC_ANYTHING"):
        with pytest.raises(ConfigError, match="tasksync reads for itself"):
            config.expand("${" + name + ":-x}", {name: "s3cret"})
    assert config.expand("${APIFY_TOKENS}", {"APIFY_TOKENS": "fine"}) == "fine"


def test_a_tasks_ignore_and_sensitive_add_to_the_defaults() -> None:
    text = (
        "version: 1\n"
        "defaults: {ignore: [/input/cursor], sensitive: [/input/password]}\n"
        "tasks:\n"
        "  - {task: ~one, ignore: [/input/page, /input/cursor], sensitive: [/input/token]}\n"
        "  - {task: ~two, ignore: [], sensitive: []}\n"
        "  - {task: ~three}\n"
    )
    one, two, three = config.load_text(text, environ={}).tasks
    assert one.ignore == ("/input/cursor", "/input/page")
    assert one.sensitive == {"/input/password", "/input/token"}
    for spec in (two, three):  # an empty list cannot unmask what the defaults mask
        assert (spec.ignore, spec.sensitive) == (("/input/cursor",), {"/input/password"})


def test_the_schema_has_a_stable_id_title_and_description() -> None:
    published = config.schema()
    assert published["$id"] == "https://github.com/tasksync/tasksync/schema/tasks-v1.json"
    assert published["title"] and published["description"]
    # The loader's fast path drops the documentation keywords, $id included.
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert validation._surely_valid(validation._compiled(), example)


def test_a_json_task_file_loads_like_the_same_yaml(tmp_path: Path) -> None:
    document = {
        "version": 1,
        "defaults": {"options": {"memoryMbytes": 1024}, "sensitive": ["/input/password"]},
        "tasks": [
            {"task": "janedoe~news-daily", "title": "Café", "input": {"url": "https://a/b"}},
            {"task": "~mine", "options": {"timeoutSecs": 60}, "input": {"key": "${NEWS_API_KEY}"}},
        ],
    }
    as_json = tmp_path / "tasks.json"
    as_json.write_text(json.dumps(document, indent="\t"), encoding="utf-8")  # \u00e9, tabs
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(document, separators=(",", ":")).replace("/", "\\/"))
    as_yaml = tmp_path / "tasks.yaml"
    as_yaml.write_text(yaml.safe_dump(document), encoding="utf-8")
    expected = [replace(t, location=None) for t in config.load(as_yaml, environ=ENV).tasks]
    for path in (as_json, compact):
        got = config.load(path, environ=ENV).tasks
        assert [replace(t, location=None) for t in got] == expected
    assert got[1].desired["input"] == {"key": "k-1"} and got[1].env_refs


def test_a_json_file_reads_every_json_number_and_yaml_keeps_its_strings(tmp_path: Path) -> None:
    # JSON's exponents without a dot or a sign are numbers; YAML 1.1 (what safe_dump writes)
    # reads them as strings, so a block-style file keeps them as written.
    numbers = '{"a": 1e5, "b": 1.5E3, "c": 2.5e-3, "d": -0E+2, "e": 7}'
    as_json = tmp_path / "tasks.json"
    as_json.write_text(
        '{"version": 1, "tasks": [{"task": "janedoe~numbers", "input": ' + numbers + "}]}"
    )
    got = config.load(as_json, environ={}).tasks[0].desired["input"]
    assert got == {"a": 100000.0, "b": 1500.0, "c": 0.0025, "d": -0.0, "e": 7}
    assert [type(v) for v in got.values()] == [float, float, float, float, int]
    as_yaml = tmp_path / "tasks.yaml"
    as_yaml.write_text("version: 1\ntasks:\n  - task: janedoe~numbers\n    input:\n      a: 1e5\n")
    assert config.load(as_yaml, environ={}).tasks[0].desired["input"] == {"a": "1e5"}
    assert yaml.safe_load(yaml.safe_dump({"a": "1e5"})) == {"a": "1e5"}
