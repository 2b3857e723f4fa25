"""``tasksync.secrets``, pure: exactly what redaction, token scrubbing, sealing and unsealing
write, value by value. (test_secrets.py checks end to end that nothing leaks; these pin the
rules it relies on. Written for the mutation run: see tests/README.md.)"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tasksync.jsonutil import canonical, js_value
from tasksync.model import Action, TaskChange
from tasksync.secrets import (
    fingerprint,
    is_encrypted,
    plan_key,
    redact,
    scrub_token,
    seal,
    secret_values,
    unseal,
)

SALT = b"0123456789abcdef"
KEY = plan_key("apify_api_token")


def change(payload: dict[str, object], refs: dict[str, str]) -> TaskChange:
    return TaskChange(key="janedoe~t", action=Action.UPDATE, payload=payload, secret_refs=refs)


def test_secret_values_are_the_strings_from_the_environment_long_enough_to_redact() -> None:
    payload = {"input": {"short": "abc", "four": "abcd", "number": 12345, "plain": "visible"}}
    refs = {"/input/short": "${S}", "/input/four": "${F}", "/input/number": "${N}"}
    assert secret_values([change(payload, refs)]) == {"abcd"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key=abcd1234 end", "key=*** end"),
        # The longest secret first: a shorter one inside it must not leave pieces behind.
        ("sent abzzzz12", "sent ***"),
        # Cut short before "...", down to four characters; never fewer.
        ("value: abcdefghi...", "value: ***..."),
        ("value: abcdefgh...", "value: ***..."),
        ("value: abcd...", "value: ***..."),
        ("value: abc...", "value: abc..."),
        # As a JSON body repeats it, and as the client writes it on one line.
        ('{"q": "pa\\"ss\\nword"}', '{"q": "***"}'),
        ('{"q": "p\\u00e4ss\\nword"}', '{"q": "***"}'),
        ('{"q": "päss\\nword"}', '{"q": "***"}'),
        ('got: pa"ss word.', "got: ***."),
    ],
)
def test_redaction_replaces_every_form_of_a_secret(text: str, expected: str) -> None:
    secrets = ["zzzz", "abzzzz12", "abcd1234", "abcdefghij", 'pa"ss\nword', "päss\nword"]
    assert redact(text, secrets) == expected


def test_forms_shorter_than_four_characters_are_left_alone_and_four_are_redacted() -> None:
    assert redact("about ab", ["ab\n\n\n"]) == "about ab"  # on one line it is "ab"
    assert redact("got ab c", ["ab\n\nc"]) == "got ***"  # on one line it is "ab c"


def test_the_token_is_scrubbed_and_so_is_whatever_follows_bearer() -> None:
    assert scrub_token("x apify_api_TOKEN y", "apify_api_TOKEN") == "x *** y"
    assert scrub_token("Authorization: bearer apify_api_TOK", "other") == (
        "Authorization: Bearer ***"
    )
    assert scrub_token("nothing to hide", "") == "nothing to hide"


def test_sealing_stores_the_template_and_a_salted_hash_keyed_by_the_token() -> None:
    payload = {"input": {"n": 7, "key": "hunter22", "q": 1}}
    refs = {"/input/n": "${N}", "/input/key": "${API_KEY}"}
    sealed, secrets = seal(change(payload, refs), SALT, {}, KEY)
    # Computed here, not at import: the mutation run changes the code after the import.
    token_key = hmac.new(b"apify_api_token", b"tasksync saved plan v1", hashlib.sha256).digest()
    assert plan_key("apify_api_token") == token_key == KEY
    digest = hmac.new(KEY, SALT + b"hunter22", hashlib.sha256).hexdigest()
    assert sealed == {"input": {"n": 7, "key": "${API_KEY}", "q": 1}}
    assert secrets == [
        {"path": "/input/key", "template": "${API_KEY}", "hash": "hmac-sha256:" + digest}
    ]
    assert payload["input"]["key"] == "hunter22"  # the change itself keeps its value


def test_unsealing_reads_the_values_back_or_says_why_it_cannot() -> None:
    payload = {"input": {"a": "x-hunter22", "b": "bb"}}
    refs = {"/input/a": "x-${A}", "/input/b": "${B}"}
    sealed_payload, secrets = seal(change(payload, refs), SALT, {}, KEY)
    opened = unseal(sealed_payload, secrets, SALT, {"A": "hunter22", "B": "bb"}, {}, KEY)
    assert opened.payload == {"input": {"a": "x-hunter22", "b": "bb"}}
    assert opened.refs == refs
    assert opened.stale is None

    # The first secret cannot be read: the second is still read back.
    missing = unseal(sealed_payload, secrets, SALT, {"B": "bb"}, {}, KEY)
    assert missing.stale == "x-${A} cannot be read from the environment (A is not set)"
    assert missing.payload["input"]["b"] == "bb"
    assert missing.refs == refs

    changed = unseal(sealed_payload, secrets, SALT, {"A": "other", "B": "bb"}, {}, KEY)
    assert changed.stale == "the value of x-${A} changed since the plan was made"


def test_unsealing_names_every_missing_variable_and_a_malformed_template() -> None:
    sealed = [{"path": "/input/a", "template": "${A}-${B}", "hash": "pbkdf2-sha256:00"}]
    opened = unseal({"input": {"a": "${A}-${B}"}}, sealed, SALT, {}, {}, KEY)
    assert opened.stale == "${A}-${B} cannot be read from the environment (A, B is not set)"
    bad = [{"path": "/input/a", "template": "${1A}", "hash": "pbkdf2-sha256:00"}]
    opened = unseal({"input": {"a": "${1A}"}}, bad, SALT, {}, {}, KEY)
    assert opened.stale is not None
    assert opened.stale.startswith(
        "${1A} cannot be read from the environment (${1A} is not a variable reference"
    )


def test_secrets_deep_in_mappings_and_lists_are_sealed_and_read_back_in_place() -> None:
    payload = {"input": {"keys": ["k-zero", "k-one-secret"], "a": {"b": {"c": "deep-secret"}}}}
    refs = {"/input/keys/1": "${ONE}", "/input/a/b/c": "${DEEP}"}
    sealed, secrets = seal(change(payload, refs), SALT, {}, KEY)
    assert sealed == {"input": {"keys": ["k-zero", "${ONE}"], "a": {"b": {"c": "${DEEP}"}}}}
    opened = unseal(sealed, secrets, SALT, {"ONE": "k-one-secret", "DEEP": "deep-secret"}, {}, KEY)
    assert opened.payload == payload and opened.stale is None


def test_is_encrypted_knows_both_of_apifys_forms_and_nothing_else() -> None:
    assert is_encrypted("ENCRYPTED_VALUE:abc") and is_encrypted("ENCRYPTED_JSON:abc")
    assert not is_encrypted("plain") and not is_encrypted(None)
    assert not is_encrypted(["ENCRYPTED_VALUE:abc"])


def test_the_basis_fingerprint_is_a_keyed_hash_of_the_canonical_view() -> None:
    view = {"b": 2.0, "a": [1.5, 3.0, {"z": "é"}], "big": 1e21}
    text = b'{"a":[1.5,3,{"z":"\\u00e9"}],"b":2,"big":1e+21}'
    assert canonical(view) == text
    key = plan_key("apify_api_token")
    expected = hmac.new(key, b"basis\0" + text, hashlib.sha256).hexdigest()
    assert fingerprint(view, key) == "hmac-sha256:" + expected
    assert js_value({"n": [1e20, 1e21, 2.5]}) == {"n": [10**20, 1e21, 2.5]}
