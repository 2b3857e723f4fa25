"""JavaScript numbers: with ``js_numbers`` on (the default), the emulator answers integral floats
as integers, as Apify (a Node.js service) does; off, a float comes back as it was sent."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tasksync.emulator import Emulator, EmulatorSettings
from tasksync.emulator.command import settings_from
from tasksync.emulator.responses import js_numbers


async def call(emu: Emulator, method: str, path: str, body: Any = None) -> tuple[int, str]:
    """Status and raw text: the test is about how numbers are written, not only their value."""
    headers = {"Authorization": f"Bearer {emu.token}"}
    data = None if body is None else json.dumps(body)
    if data is not None:
        headers["Content-Type"] = "application/json"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.url + path, data=data, headers=headers) as resp,
    ):
        return resp.status, await resp.text()


def float_literals(text: str) -> list[str]:
    """The numbers of a JSON text written with a fraction or an exponent (read by the parser:
    a timestamp such as "20:08:35.053Z" is a string, not a number)."""
    found: list[str] = []
    json.loads(text, parse_float=lambda literal: found.append(literal) or float(literal))
    return found


SENT = {"count": 5.0, "pair": [1.0, 2.5], "deep": {"list": [{"n": -3.0}], "big": 1e21}, "i": 7}


@pytest.mark.parametrize("on", [False, True])
async def test_integral_floats_in_every_answer(on: bool) -> None:
    async with Emulator(EmulatorSettings(js_numbers=on)) as emu:
        task = emu.state.add_task(name="numbers", options={"maxTotalChargeUsd": 2.0})
        status, text = await call(emu, "PUT", "/v2/actor-tasks/~numbers/input", SENT)
        assert status == 200
        for path in ("/v2/actor-tasks/~numbers/input", f"/v2/actor-tasks/{task['id']}"):
            status, text = await call(emu, "GET", path)
            assert status == 200
            if on:
                assert '"count":5,' in text and '"pair":[1,2.5]' in text and '"n":-3}' in text
                assert sorted(float_literals(text)) == ["1e+21", "2.5"]  # no "5.0", no "1.0"
            else:
                assert '"count":5.0,' in text and '"pair":[1.0,2.5]' in text
            assert '"big":1e+21' in text  # JSON.stringify(1e21) is "1e+21" too
        _, text = await call(emu, "GET", "/v2/actor-tasks/~numbers")
        assert ('"maxTotalChargeUsd":2}' in text) is on
        # What is stored is what was sent: only the answers are rendered.
        assert emu.state.get_task("~numbers")["input"]["count"] == 5.0  # type: ignore[index]
        value = json.loads(text)["data"]["input"]["count"]
        assert type(value) is (int if on else float)


async def test_switched_on_the_control_plane() -> None:
    async with Emulator(EmulatorSettings(js_numbers=False)) as emulator:
        emulator.state.add_task(name="switch", input={"x": 1.0})
        assert (await call(emulator, "GET", "/v2/actor-tasks/~switch/input"))[1] == '{"x":1.0}'
        status, text = await call(emulator, "PUT", "/_emulator/settings", {"js_numbers": True})
        assert status == 200 and json.loads(text)["js_numbers"] is True
        assert (await call(emulator, "GET", "/v2/actor-tasks/~switch/input"))[1] == '{"x":1}'
        status, _ = await call(emulator, "PUT", "/_emulator/settings", {"js_numbers": "yes"})
        assert status == 400


def test_the_command_line_flag() -> None:
    from tasksync.cli import build_parser

    args = build_parser().parse_args(["emulator"])
    assert settings_from(args).js_numbers is True  # Apify is a Node.js service
    args = build_parser().parse_args(["emulator", "--no-js-numbers"])
    assert settings_from(args).js_numbers is False


def test_js_numbers_rules() -> None:
    value = {"a": [0.0, -0.0, 1.5, 2**53 * 1.0, 1e20, 1e21, True, None, "5.0", 3]}
    out = js_numbers(value)
    assert json.dumps(out) == (
        '{"a": [0, 0, 1.5, 9007199254740992, 100000000000000000000, 1e+21, true, null, "5.0", 3]}'
    )
    assert value["a"][0] == 0.0 and type(value["a"][0]) is float  # the argument is left alone
