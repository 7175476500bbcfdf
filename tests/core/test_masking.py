"""Secrets in payloads are masked in what is shown; other values are left alone."""

from __future__ import annotations

from typing import Any

import pytest

from peft_studio_offline.core.masking import MASK, mask_secrets, masked_operation


def test_secret_keys_are_masked_at_any_depth() -> None:
    payload: dict[str, Any] = {
        "endpoint": "/api/models",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k", "Accept": "json"},
        "data": {"password": "p", "nested": [{"access_token": "t", "client_secret": "s"}]},
        "cookie": "c",
    }
    masked = mask_secrets(payload)
    assert masked["headers"] == {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "json"}
    assert masked["data"]["password"] == MASK
    assert masked["data"]["nested"] == [{"access_token": MASK, "client_secret": MASK}]
    assert masked["cookie"] == MASK
    assert masked["endpoint"] == "/api/models"
    assert payload["headers"]["Authorization"] == "Bearer abc"  # the original is untouched


def test_look_alikes_are_not_masked() -> None:
    payload = {"max_tokens": 512, "tokenizer": "gpt2", "num_tokens": 3, "author": "me"}
    assert mask_secrets(payload) == payload


def test_passwords_in_urls_are_masked() -> None:
    masked = mask_secrets({"url": "https://user:hunter2@example.test/x?y=1"})
    assert masked == {"url": f"https://user:{MASK}@example.test/x?y=1"}
    assert mask_secrets({"url": "https://example.test/a@b"}) == {"url": "https://example.test/a@b"}


def test_empty_secrets_stay_visible_as_empty() -> None:
    assert mask_secrets({"token": "", "password": None}) == {"token": "", "password": None}


def test_urls_in_an_error_message_are_masked() -> None:
    shown = masked_operation(
        {"payload": {}, "error_message": "Refused by https://me:pw@example.test/x (401)."}
    )
    assert shown["error_message"] == f"Refused by https://me:{MASK}@example.test/x (401)."
    assert masked_operation({"payload": {}, "error_message": None})["error_message"] is None


@pytest.mark.timeout(60)
def test_a_long_run_of_letters_in_a_url_string_is_masked_in_one_pass() -> None:
    """The scheme pattern rescanned the run from every position: minutes for 5 MB."""
    long_run = "https://me:pa55@host/" + "p" * 2_000_000
    assert mask_secrets({"u": long_run})["u"] == "https://me:***@host/" + "p" * 2_000_000
    letters = "a" * 2_000_000 + "://x"
    assert mask_secrets(letters) == letters
    assert mask_secrets("see http://u:p@h and ftp://a:b@c, 1://x:y@z") == (
        "see http://u:***@h and ftp://a:***@c, 1://x:***@z"
    )


def test_the_apps_own_waiting_sentence_survives_masking() -> None:
    """Shown through the masking, "credential: no secret…" read "credential: *** secret…"."""
    from peft_studio_offline.core.handlers.httputil import missing_secret
    from peft_studio_offline.core.masking import mask_text

    text = str(missing_secret("my token", "credentials.api_token"))
    assert mask_text(text) == text
