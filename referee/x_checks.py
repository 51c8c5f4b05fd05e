"""X, refereed by tweepy and requests-oauthlib: OAuth 2.0 with PKCE, scopes, refresh rotation,
get_me with user.fields and X's rate-limit headers, what production does to a caller, and
publishing: create_tweet, delete_tweet, the user timeline, media upload v2 and the faults armed
on the irreversible call.

tweepy 4.17 has no v2 media upload: `API.media_upload` and `chunked_upload` speak v1.1
(`upload.twitter.com/1.1/media/upload.json`, `command=INIT/APPEND/FINALIZE`, OAuth 1.0a), which
the v2 reference tells clients to leave. The v2 endpoints are driven with requests-oauthlib's
OAuth2Session instead, the session tweepy itself uses for OAuth 2.0, with the user's token."""

import base64
import time

import oauthlib.oauth2.rfc6749.errors as oauth_errors
import requests
import tweepy
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from common import JPEG, MP4, Redirect, browser, check, control, env, raises, redirect_query

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


# Publishing. The fake's account signs in with the scopes the publisher asks for.
PUBLISH_SCOPES = ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access"]


def publisher():
    _, token = login(PUBLISH_SCOPES)
    return token, api(token["access_token"])


def published():
    return control("/x/published", method="GET")


def uploader(token):
    """requests-oauthlib's session with the user's token, pointed at the fake."""
    client_id, _ = credentials()
    return adapter().mount_on(OAuth2Session(client_id, token=token))


def unique(text):
    # The fake refuses duplicate text per account, as X does; every check posts its own.
    return f"{text} {time.monotonic_ns()}"


@check
def create_tweet_threads_and_delete_tweet_work_through_tweepy():
    _, client = publisher()
    first = client.create_tweet(text=unique("Part one https://postroute.example/launch"), user_auth=False)
    first_id = first.data["id"]
    assert "https://t.co/" in first.data["text"], first.data
    second = client.create_tweet(text=unique("Part two"), in_reply_to_tweet_id=first_id, user_auth=False)
    record = {post["id"]: post for post in published()}
    assert record[second.data["id"]]["reply_to"] == first_id, record
    deleted = client.delete_tweet(second.data["id"], user_auth=False)
    assert deleted.data == {"deleted": True}, deleted
    assert {post["id"]: post for post in published()}[second.data["id"]]["deleted"] is True
    raises(tweepy.NotFound, client.delete_tweet, second.data["id"], user_auth=False)


@check
def the_timeline_lists_from_since_id_with_the_fields_reconciliation_needs():
    _, client = publisher()
    first = client.create_tweet(text=unique("Before"), user_auth=False).data["id"]
    second = client.create_tweet(text=unique("After"), in_reply_to_tweet_id=first, user_auth=False).data["id"]
    timeline = client.get_users_tweets(
        1001,
        since_id=first,
        max_results=5,
        exclude=["retweets"],
        tweet_fields=["created_at", "text", "note_tweet", "referenced_tweets", "attachments"],
        user_auth=False,
    )
    assert [tweet.id for tweet in timeline.data] == [int(second)], timeline
    tweet = timeline.data[0]
    assert tweet.created_at is not None and tweet.referenced_tweets[0].id == int(first), tweet.data
    assert timeline.meta["result_count"] == 1 and timeline.meta["newest_id"] == second, timeline.meta
    # tweepy's Paginator follows next_token across pages.
    pages = list(tweepy.Paginator(client.get_users_tweets, 1001, max_results=5, user_auth=False))
    assert sum(page.meta["result_count"] for page in pages) == sum(1 for post in published() if not post["deleted"] and post["account"] == "1001"), pages
    error = raises(tweepy.BadRequest, client.get_users_tweets, 1001, max_results=1, user_auth=False)
    assert error.response.json()["type"].endswith("/problems/invalid-request")


@check
def a_duplicate_is_a_permanent_403_without_the_existing_id():
    _, client = publisher()
    text = unique("Said once")
    client.create_tweet(text=text, user_auth=False)
    error = raises(tweepy.Forbidden, client.create_tweet, text=text, user_auth=False)
    assert any("duplicate content" in message for message in error.api_messages), error.api_messages
    assert "id" not in error.response.json(), error.response.text


@check
def armed_refusals_reach_tweepy_in_their_class_and_create_nothing():
    _, client = publisher()
    before = len(published())
    cases = [
        ({"fault": "server_error"}, tweepy.TwitterServerError),
        ({"fault": "rate_limited", "reset_in_secs": 120}, tweepy.TooManyRequests),
        ({"fault": "unauthorized"}, tweepy.Unauthorized),
        ({"fault": "duplicate"}, tweepy.Forbidden),
        ({"fault": "reply_restricted"}, tweepy.Forbidden),
        ({"fault": "credits_depleted"}, tweepy.HTTPException),
        ({"fault": "usage_capped"}, tweepy.TooManyRequests),
    ]
    for fault, kind in cases:
        control("/x/publish-faults", fault)
        try:
            error = raises(kind, client.create_tweet, text=unique("refused"), user_auth=False)
        finally:
            control("/x/publish-faults", {"clear": True})
        if fault["fault"] == "rate_limited":
            assert time.time() + 100 < error.reset_time <= time.time() + 121, error.reset_time
        if fault["fault"] == "credits_depleted":
            assert error.response.status_code == 402 and error.response.json()["title"] == "CreditsDepleted", error.response.text
        if fault["fault"] == "usage_capped":
            assert error.response.json()["type"].endswith("/problems/usage-capped"), error.response.text
    assert len(published()) == before, "a refusal before creating creates nothing"


@check
def created_then_500_and_created_then_timeout_leave_the_tweet_on_the_platform():
    _, client = publisher()
    text = unique("The answer was lost")
    control("/x/publish-faults", {"fault": "created_then_500"})
    raises(tweepy.TwitterServerError, client.create_tweet, text=text, user_auth=False)
    assert [post for post in published() if post["text"] == text], "the tweet exists"
    # A blind retry meets X's duplicate refusal.
    raises(tweepy.Forbidden, client.create_tweet, text=text, user_auth=False)
    late = unique("No answer in time")
    control("/x/publish-faults", {"fault": "created_then_timeout", "hang_secs": 2})
    started = time.monotonic()
    try:
        error = raises(tweepy.TwitterServerError, client.create_tweet, text=late, user_auth=False)
    finally:
        control("/x/publish-faults", {"clear": True, "hang_secs": 120})
    assert time.monotonic() - started >= 2 and error.response.status_code == 504, error.response.status_code
    timeline = client.get_users_tweets(1001, max_results=5, user_auth=False)
    assert timeline.data[0].text == late, "reconciliation finds it on the timeline"


@check
def v2_media_upload_images_at_once_and_video_in_chunks_with_status():
    token, client = publisher()
    session = uploader(token)
    image = session.post("https://api.x.com/2/media/upload", files={"media": ("a.jpg", JPEG)}, data={"media_category": "tweet_image"})
    assert image.status_code == 200, image.text
    assert "processing_info" not in image.json()["data"] and image.json()["data"]["image"]["image_type"] == "image/jpeg"
    as_json = session.post("https://api.x.com/2/media/upload", json={"media": base64.b64encode(JPEG).decode(), "media_category": "tweet_image"})
    assert as_json.status_code == 200 and as_json.json()["data"]["media_key"].startswith("3_"), as_json.text
    refused = session.post("https://api.x.com/2/media/upload", files={"media": ("a.jpg", JPEG)}, data={"command": "INIT"})
    assert refused.status_code == 400, "the v1.1 command form is refused here"
    # platforms.md 1.3: media_category is required, and initialize takes only its schema's fields.
    uncategorised = session.post("https://api.x.com/2/media/upload", files={"media": ("a.jpg", JPEG)})
    assert uncategorised.status_code == 400, uncategorised.text
    extra = session.post("https://api.x.com/2/media/upload/initialize", json={"media_type": "video/mp4", "total_bytes": len(MP4), "media_category": "tweet_video", "command": "INIT"})
    assert extra.status_code == 400, extra.text
    control("/x/settings", {"media_processing_ms": 1200})
    try:
        init = session.post("https://api.x.com/2/media/upload/initialize", json={"media_type": "video/mp4", "total_bytes": len(MP4) * 2, "media_category": "tweet_video"})
        assert init.status_code == 200, init.text
        media_id, media_key = init.json()["data"]["id"], init.json()["data"]["media_key"]
        for index in (0, 1):
            append = session.post(f"https://api.x.com/2/media/upload/{media_id}/append", files={"media": ("c.mp4", MP4)}, data={"segment_index": str(index)})
            assert append.status_code == 200, append.text
        finalize = session.post(f"https://api.x.com/2/media/upload/{media_id}/finalize").json()["data"]
        info = finalize["processing_info"]
        assert info["state"] in ("pending", "in_progress") and finalize["expires_after_secs"] == 86400, finalize
        raises(tweepy.BadRequest, client.create_tweet, text=unique("too soon"), media_ids=[media_id], user_auth=False)
        while info["state"] in ("pending", "in_progress"):
            time.sleep(info["check_after_secs"])
            status = session.get("https://api.x.com/2/media/upload", params={"command": "STATUS", "media_id": media_id})
            info = status.json()["data"]["processing_info"]
        assert info["state"] == "succeeded", info
    finally:
        control("/x/settings", {"media_processing_ms": 1500})
    posted = client.create_tweet(text=unique("With video"), media_ids=[media_id], user_auth=False).data["id"]
    client.create_tweet(media_ids=[image.json()["data"]["id"]], user_auth=False)
    timeline = client.get_users_tweets(1001, max_results=5, tweet_fields=["attachments"], user_auth=False)
    by_id = {tweet.id: tweet for tweet in timeline.data}
    assert by_id[int(posted)].attachments == {"media_keys": [media_key]}, by_id[int(posted)].data
    assert [post["media"] for post in published() if post["id"] == posted] == [[media_key]]


@check
def the_posting_window_runs_out_with_x_rate_limit_reset():
    _, client = publisher()
    raw = api(client.bearer_token, raw=True)
    first = raw.create_tweet(text=unique("spends the window"), user_auth=False)
    used = 100 - int(first.headers["x-rate-limit-remaining"])
    # A window the size of what is spent already: the next post is over it.
    control("/x/settings", {"post_window_limit": used})
    try:
        error = raises(tweepy.TooManyRequests, client.create_tweet, text=unique("over the window"), user_auth=False)
    finally:
        control("/x/settings", {"post_window_limit": 100})
    assert error.response.headers["x-rate-limit-limit"] == str(used) and error.response.headers["x-rate-limit-remaining"] == "0"
    assert time.time() < error.reset_time <= time.time() + 900, error.reset_time
    posted = raw.create_tweet(text=unique("window back"), user_auth=False)
    assert posted.status_code == 201 and int(posted.headers["x-rate-limit-remaining"]) < 100, posted.headers
