"""Resend, refereed by the resend package pointed at the fake through `resend.api_url`."""

import time
import uuid

import resend
from resend.exceptions import ResendError

from common import check, control, env, raises

FROM = "PostRoute <no-reply@postroute.example>"


def configure(key=None):
    resend.api_url = env("REFEREE_RESEND_URL").rstrip("/")
    resend.api_key = key or env("REFEREE_RESEND_KEY")


def email(**changes):
    params = {"from": FROM, "to": ["ada@example.com"], "subject": "Welcome", "text": "Hello", "html": "<p>Hello</p>"}
    params.update(changes)
    return params


def refused(params, options=None):
    return raises(ResendError, resend.Emails.send, params, options)


def accepted_ids():
    return [entry["id"] for entry in control("/resend/emails", method="GET")]


@check
def a_message_is_accepted_and_recorded():
    configure()
    sent = resend.Emails.send(email(to="grace@example.com"))
    uuid.UUID(sent["id"])
    recorded = [entry for entry in control("/resend/emails", method="GET") if entry["id"] == sent["id"]]
    assert recorded and recorded[0]["to"] == ["grace@example.com"], recorded


@check
def an_idempotent_retry_answers_the_first_response():
    configure()
    key = f"referee-{uuid.uuid4()}"
    first = resend.Emails.send(email(), {"idempotency_key": key})
    again = resend.Emails.send(email(), {"idempotency_key": key})
    assert first["id"] == again["id"]
    assert accepted_ids().count(first["id"]) == 1, "sent once"
    error = refused(email(subject="Another"), {"idempotency_key": key})
    assert (error.code, error.error_type) == (409, "invalid_idempotent_request"), vars(error)


@check
def a_malformed_from_is_refused():
    configure()
    for sender in ("no-reply", "PostRoute <no-reply@>", "PostRoute no-reply@postroute.example>"):
        error = refused(email(**{"from": sender}))
        assert (error.code, error.error_type) == (422, "invalid_from_address"), (sender, vars(error))


@check
def a_malformed_recipient_is_refused():
    configure()
    for to in ("ada", ["ada@example.com", "not an address"], []):
        error = refused(email(to=to))
        assert (error.code, error.error_type) == (422, "validation_error"), (to, vars(error))


@check
def at_most_fifty_recipients():
    configure()
    many = [f"reader{n}@example.com" for n in range(51)]
    error = refused(email(to=many))
    assert (error.code, error.error_type) == (422, "validation_error"), vars(error)
    assert resend.Emails.send(email(to=many[:50]))["id"]


@check
def a_missing_field_is_named():
    configure()
    params = email()
    del params["subject"]
    error = refused(params)
    assert (error.code, error.error_type) == (422, "missing_required_field"), vars(error)


@check
def a_wrong_key_is_refused():
    configure("re_not_the_key")
    try:
        error = refused(email())
    finally:
        configure()
    assert (error.code, error.error_type) == (403, "invalid_api_key"), vars(error)


@check
def a_rate_limit_carries_resends_headers():
    configure()
    control("/resend/faults", {"rate_limit": {"limit": 2, "reset_in_secs": 3}})
    try:
        error = refused(email())
    finally:
        control("/resend/faults", {"rate_limit": None})
    assert (error.code, error.error_type) == (429, "rate_limit_exceeded"), vars(error)
    headers = {name.lower(): value for name, value in error.headers.items()}
    assert headers["ratelimit-limit"] == "2" and headers["ratelimit-remaining"] == "0", headers
    assert 1 <= int(headers["ratelimit-reset"]) <= 3 and headers["retry-after"] == headers["ratelimit-reset"], headers


@check
def an_outage_is_a_server_error():
    configure()
    control("/resend/faults", {"outage": 500})
    try:
        error = refused(email())
    finally:
        control("/resend/faults", {"outage": None})
    assert (error.code, error.error_type) == (500, "internal_server_error"), vars(error)


@check
def injected_latency_slows_every_answer():
    configure()
    control("/resend/faults", {"latency_ms": 300})
    try:
        started = time.monotonic()
        resend.Emails.send(email())
        elapsed = time.monotonic() - started
    finally:
        control("/resend/faults", {"latency_ms": 0})
    assert elapsed >= 0.3, elapsed
