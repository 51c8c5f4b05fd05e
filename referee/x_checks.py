"""X, refereed by tweepy and requests-oauthlib: OAuth 2.0 with PKCE, scopes, refresh rotation,
get_me with user.fields and X's rate-limit headers, and what production does to a caller."""

import time

import oauthlib.oauth2.rfc6749.errors as oauth_errors
import requests
import tweepy
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from common import Redirect, browser, check, control, env, raises, redirect_query

TOKEN_URL = "https://api.twitter.com/2/oauth2/token"
CALLBACK = "https://referee.example/x/callback"
SCOPES = ["tweet.read", "users.read", "offline.access"]


def adapter():
    fake = env("REFEREE_X_URL")
    # tweepy uses the legacy hosts; the fake serves every path on one origin.
    return Redirect({"https://twitter.com": fake, "https://api.twitter.com": fake, "https://x.com": fake, "https://api.x.com": fake})


def credentials():
    return env("REFEREE_X_CLIENT_ID"), env("REFEREE_X_CLIENT_SECRET")


def handler(scopes=SCOPES):
    client_id, client_secret = credentials()
    oauth = tweepy.OAuth2UserHandler(client_id=client_id, redirect_uri=CALLBACK, scope=scopes, client_secret=client_secret)
    adapter().mount_on(oauth)
    return oauth


def authorize(oauth):
    """The user clicks "Authorize"; returns the callback URL the browser lands on."""
    response = browser(adapter()).get(oauth.get_authorization_url(), allow_redirects=False)
    location, query = redirect_query(response)
    assert location.startswith(CALLBACK), location
    return location, query


def login(scopes=SCOPES):
    oauth = handler(scopes)
    location, _ = authorize(oauth)
    return oauth, oauth.fetch_token(location)


def api(access_token, raw=False):
    client = tweepy.Client(bearer_token=access_token, return_type=requests.Response if raw else tweepy.Response)
    adapter().mount_on(client.session)
    return client


def refresher(token, scopes=SCOPES):
    client_id, _ = credentials()
    session = OAuth2Session(client_id, token=token, scope=scopes)
    adapter().mount_on(session)
    return session


def refresh(token, scopes=SCOPES):
    client_id, client_secret = credentials()
    return refresher(token, scopes).refresh_token(TOKEN_URL, auth=HTTPBasicAuth(client_id, client_secret))


@check
def pkce_login_grants_the_scopes_asked_for():
    # requests-oauthlib raises "Scope has changed" when the granted scope differs from the ask.
    _, token = login(SCOPES)
    assert sorted(token["scope"]) == sorted(SCOPES), token["scope"]
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 7200
    assert token.get("refresh_token"), "offline.access was granted"
    _, narrower = login(["tweet.read", "users.read", "tweet.write"])
    assert sorted(narrower["scope"]) == ["tweet.read", "tweet.write", "users.read"], narrower["scope"]


@check
def no_refresh_token_without_offline_access():
    _, token = login(["tweet.read", "users.read"])
    assert "refresh_token" not in token, token


@check
def get_me_honours_user_fields_and_sends_rate_limit_headers():
    _, token = login()
    plain = api(token["access_token"]).get_me(user_auth=False)
    assert plain.data.username == "postroute_fan" and plain.data.id == 1001, plain
    assert plain.data.profile_image_url is None, "not asked for, not sent"
    rich = api(token["access_token"]).get_me(user_auth=False, user_fields=["profile_image_url", "created_at"])
    assert rich.data.profile_image_url.startswith("https://"), rich.data
    assert rich.data.created_at is not None
    raw = api(token["access_token"], raw=True).get_me(user_auth=False)
    limit, remaining, reset = (int(raw.headers[f"x-rate-limit-{name}"]) for name in ("limit", "remaining", "reset"))
    assert limit == 75 and 0 <= remaining < limit, raw.headers
    assert time.time() < reset <= time.time() + 900, reset


@check
def an_unknown_user_field_is_a_bad_request():
    _, token = login()
    error = raises(tweepy.BadRequest, api(token["access_token"]).get_me, user_auth=False, user_fields=["shoe_size"])
    assert error.response.json()["type"].endswith("/problems/invalid-request"), error.response.text
    assert any("shoe_size" in message for message in error.api_messages), error.api_messages


@check
def a_scope_that_was_not_granted_is_refused():
    _, token = login(["users.read"])
    raises(tweepy.Forbidden, api(token["access_token"]).get_me, user_auth=False)


@check
def refresh_tokens_rotate_and_a_spent_one_is_dead():
    _, token = login()
    rotated = refresh(token)
    assert rotated["refresh_token"] != token["refresh_token"]
    assert api(rotated["access_token"]).get_me(user_auth=False).data.username == "postroute_fan"
    # The spent token: X answers invalid_request, "Value passed for the token was invalid."
    error = raises(oauth_errors.OAuth2Error, refresh, token)
    assert error.error == "invalid_request", error.error
    refresh(rotated)


@check
def a_refresh_cannot_widen_the_grant():
    _, token = login()
    error = raises(oauth_errors.InvalidScopeError, refresh, token, SCOPES + ["tweet.write"])
    assert error.error == "invalid_scope"
    # Nothing was issued, so the refresh token still works.
    refresh(token)


@check
def a_code_works_once_and_only_with_its_verifier():
    oauth = handler()
    location, query = authorize(oauth)
    verifier = oauth._client.code_verifier
    client_id, client_secret = credentials()
    session = adapter().mount_on(OAuth2Session(client_id, redirect_uri=CALLBACK, scope=SCOPES))
    exchange = lambda code_verifier: session.fetch_token(  # noqa: E731
        TOKEN_URL, code=query["code"], code_verifier=code_verifier, auth=HTTPBasicAuth(client_id, client_secret)
    )
    # oauthlib names X's invalid_request after the first class it matches; the wire value counts.
    error = raises(oauth_errors.OAuth2Error, exchange, "w" * 64)
    assert error.error == "invalid_request" and "authorization code was invalid" in error.description, vars(error)
    # A refused exchange spends the code, as at X.
    assert raises(oauth_errors.OAuth2Error, exchange, verifier).error == "invalid_request"
    location, _ = authorize(oauth)
    oauth.fetch_token(location)
    assert raises(oauth_errors.OAuth2Error, oauth.fetch_token, location).error == "invalid_request"


@check
def a_denied_login_comes_back_without_a_code():
    control("/x/deny-next-login")
    oauth = handler()
    location, query = authorize(oauth)
    assert query.get("error") == "access_denied" and "code" not in query, query
    raises(oauth_errors.AccessDeniedError, oauth.fetch_token, location)


@check
def a_revoked_authorization_answers_invalid_grant():
    control("/x/account", {"id": "2002", "username": "revoked_fan"})
    try:
        _, token = login()
    finally:
        control("/x/account", {"id": "1001", "username": "postroute_fan", "name": "PostRoute Fan"})
    control("/x/revoke", {"account_id": "2002"})
    raises(oauth_errors.InvalidGrantError, refresh, token)
    raises(tweepy.Unauthorized, api(token["access_token"]).get_me, user_auth=False)


@check
def an_expired_access_token_is_unauthorized_and_refresh_recovers():
    _, token = login()
    control("/x/expire-access-tokens")
    error = raises(tweepy.Unauthorized, api(token["access_token"]).get_me, user_auth=False)
    assert error.response.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    assert api(refresh(token)["access_token"]).get_me(user_auth=False).data.id == 1001


@check
def a_rate_limit_carries_the_reset_time():
    _, token = login()
    control("/x/faults", {"rate_limit": {"reset_in_secs": 120}})
    try:
        error = raises(tweepy.TooManyRequests, api(token["access_token"]).get_me, user_auth=False)
    finally:
        control("/x/faults", {"rate_limit": None})
    assert time.time() + 100 < error.reset_time <= time.time() + 121, error.reset_time
    assert error.response.headers["x-rate-limit-remaining"] == "0"
    assert error.response.json()["title"] == "Too Many Requests"
    # Lifting the limit through the control API lets the next call through.
    assert api(token["access_token"]).get_me(user_auth=False).data.id == 1001


@check
def an_outage_is_a_server_error():
    _, token = login()
    control("/x/faults", {"outage": 503})
    try:
        raises(tweepy.TwitterServerError, api(token["access_token"]).get_me, user_auth=False)
        raises(oauth_errors.OAuth2Error, refresh, token)
    finally:
        control("/x/faults", {"outage": None})
    assert control("/x/state", method="GET")["refreshes"] >= 1


@check
def injected_latency_slows_every_answer():
    _, token = login()
    control("/x/faults", {"latency_ms": 300})
    try:
        started = time.monotonic()
        api(token["access_token"]).get_me(user_auth=False)
        elapsed = time.monotonic() - started
    finally:
        control("/x/faults", {"latency_ms": 0})
    assert elapsed >= 0.3, elapsed


@check
def requests_oauthlibs_own_pkce_works_and_a_missing_challenge_is_refused():
    client_id, client_secret = credentials()
    session = adapter().mount_on(OAuth2Session(client_id, redirect_uri=CALLBACK, scope=SCOPES, pkce="S256"))
    url, _ = session.authorization_url("https://x.com/i/oauth2/authorize")
    location, _ = redirect_query(browser(adapter()).get(url, allow_redirects=False))
    token = session.fetch_token("https://api.x.com/2/oauth2/token", authorization_response=location, auth=HTTPBasicAuth(client_id, client_secret))
    assert token["access_token"] and sorted(token["scope"]) == sorted(SCOPES), token
    # requests-oauthlib 2.0.0 with pkce="plain" sends no code_challenge at all; X requires one.
    bare = OAuth2Session(client_id, redirect_uri=CALLBACK, scope=SCOPES, pkce="plain")
    url, _ = bare.authorization_url("https://x.com/i/oauth2/authorize")
    assert "code_challenge" not in url, url
    assert browser(adapter()).get(url, allow_redirects=False).status_code == 400


@check
def a_plain_challenge_is_the_verifier_itself():
    client_id, client_secret = credentials()
    verifier = "v" * 50
    session = adapter().mount_on(OAuth2Session(client_id, redirect_uri=CALLBACK, scope=SCOPES))
    url, _ = session.authorization_url("https://x.com/i/oauth2/authorize", code_challenge=verifier, code_challenge_method="plain")
    location, query = redirect_query(browser(adapter()).get(url, allow_redirects=False))
    token = session.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier, auth=HTTPBasicAuth(client_id, client_secret))
    assert token["access_token"], token


@check
def an_unknown_scope_is_refused_at_the_authorize_page():
    client_id, _ = credentials()
    session = OAuth2Session(client_id, redirect_uri=CALLBACK, scope=SCOPES + ["tweet.everything"], pkce="S256")
    url, _ = session.authorization_url("https://x.com/i/oauth2/authorize")
    response = browser(adapter()).get(url, allow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers, response.status_code
