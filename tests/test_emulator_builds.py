"""The emulator's Actors, builds, input schemas and validate-input, driven by the official
``apify-client``; and the same verdicts from ``validate-input`` as from tasksync's own check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apify_client.errors import ApifyApiError
from conftest import SchemaCheck
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_emulator_contract import client, raw
from test_inputcheck import SCHEMA, SCHEMA_V2

from tasksync.emulator import Emulator
from tasksync.inputschema import InputSchema


@pytest.fixture
async def emu(emulator: Emulator) -> Emulator:
    emulator.state.add_actor("janedoe", "crawler", input_schema=SCHEMA)
    emulator.state.add_build("janedoe~crawler", "beta", SCHEMA_V2)
    return emulator


async def test_builds_and_schemas_with_the_official_client(
    emu: Emulator, api_schema: SchemaCheck
) -> None:
    actor = client(emu).actor("janedoe~crawler")
    found = await actor.get()
    assert found is not None
    tagged = found.model_dump(by_alias=True)["taggedBuilds"]
    assert set(tagged) == {"latest", "beta"}
    default = await (await actor.default_build()).get()
    assert default is not None and default.id == tagged["latest"]["buildId"]
    beta = await client(emu).build(tagged["beta"]["buildId"]).get()
    assert beta is not None and beta.actor_definition is not None
    assert beta.model_dump(by_alias=True)["actorDefinition"]["input"] == SCHEMA_V2
    assert json.loads(beta.model_dump(by_alias=True)["inputSchema"]) == SCHEMA_V2
    for path in (
        "/v2/acts/janedoe~crawler/builds/default",
        f"/v2/actor-builds/{tagged['beta']['buildId']}",
    ):
        status, body = await raw(emu, "GET", path)
        assert status == 200
        api_schema(body, "BuildResponse")
    assert await client(emu, retries=0).build("nosuchbuild123456").get() is None  # a 404


async def test_validate_input_with_the_official_client(emu: Emulator) -> None:
    actor = client(emu, retries=0).actor("janedoe~crawler")
    good = {"startUrls": [{"url": "https://a"}]}
    assert await actor.validate_input(good) is True  # maxPages: required, has a default
    with pytest.raises(ApifyApiError) as refused:
        await actor.validate_input(good, build="beta")  # beta also requires mode
    assert refused.value.status_code == 400 and refused.value.type == "invalid-input"
    assert "Field input.mode is required" in refused.value.message
    with pytest.raises(ApifyApiError) as empty:
        await actor.validate_input({"startUrls": []})
    assert "input.startUrls is required, so it needs at least one item" in empty.value.message
    with pytest.raises(ApifyApiError) as tag:
        await actor.validate_input(good, build="nightly")
    assert tag.value.status_code == 403 and tag.value.type == "unknown-build-tag"
    assert await client(emu).actor("apify~web-scraper").validate_input({"any": [1]}) is True


async def test_secret_objects_and_strings_are_stored_encrypted(emu: Emulator) -> None:
    tasks = client(emu).tasks()
    created = await tasks.create(
        actor_id="janedoe~crawler",
        name="secretive",
        task_input={"startUrls": [{"url": "u"}], "apiKey": "k1", "creds": {"u": "p"}},
    )
    stored = emu.state.get_task(created.id)
    assert stored is not None
    key, creds = stored["input"]["apiKey"], stored["input"]["creds"]
    assert key.startswith("ENCRYPTED_VALUE:") and creds.startswith("ENCRYPTED_JSON:")
    assert emu.state.secret_plaintext(creds) == {"u": "p"}
    await client(emu).task(created.id).update(task_input=stored["input"])
    again = emu.state.get_task(created.id)
    assert again is not None and again["input"] == stored["input"]  # encrypted: kept as is


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 30) | st.sampled_from(["fast", "full", "x", ""]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.just("url"), inner, max_size=1),
    max_leaves=4,
)
_INPUTS = st.dictionaries(st.sampled_from([*SCHEMA["properties"], "extra"]), _VALUES, max_size=5)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_INPUTS, tag=st.sampled_from(["latest", "beta"]))
async def test_the_same_verdicts_as_validate_input(
    emu: Emulator, value: dict[str, Any], tag: str
) -> None:
    local = InputSchema(SCHEMA if tag == "latest" else SCHEMA_V2).check(value)
    status, body = await raw(
        emu, "POST", f"/v2/actors/janedoe~crawler/validate-input?build={tag}", json=value
    )
    assert (status == 200) == (local == []), (local, body)
