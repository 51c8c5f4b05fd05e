"""Meta, refereed by facebook-business and requests-oauthlib: the login dialog, the code exchange
by POST and by GET, long-lived and app tokens, debug_token, /me/accounts paging, Page and
Instagram reads with `fields` and `appsecret_proof`, and Graph's errors."""

import time
import urllib.parse

import oauthlib.oauth2.rfc6749.errors as oauth_errors
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.page import Page
from facebook_business.adobjects.user import User
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session
from requests_oauthlib.compliance_fixes import facebook_compliance_fix

from common import Redirect, browser, check, control, env, raises, redirect_query

VERSION = "v25.0"
DIALOG_URL = f"https://www.facebook.com/{VERSION}/dialog/oauth"
TOKEN_URL = f"https://graph.facebook.com/{VERSION}/oauth/access_token"
CALLBACK = "https://referee.example/meta/callback"
SCOPES = ["pages_show_list", "pages_read_engagement"]
PAGES = [
    {"id": "501", "name": "Corner Bakery", "instagram": {"id": "17841400000000501", "username": "cornerbakery"}},
    {"id": "502", "name": "Harbour Cafe"},
    {"id": "503", "name": "Night Market", "instagram": {"id": "17841400000000503", "username": "nightmarket"}},
]


def fake_origin():
    parts = urllib.parse.urlsplit(env("REFEREE_META_GRAPH_URL"))
    return f"{parts.scheme}://{parts.netloc}"


def adapter():
    return Redirect({"https://www.facebook.com": fake_origin(), "https://graph.facebook.com": fake_origin()})


def app():
    return env("REFEREE_META_APP_ID"), env("REFEREE_META_APP_SECRET")


def graph(access_token, app_secret=None, with_secret=True):
    """facebook-business pointed at the fake through FacebookSession.GRAPH, its documented base URL;
    with the app secret it signs every call with appsecret_proof."""
    app_id, secret = app()
    session = FacebookSession(app_id, (app_secret or secret) if with_secret else None, access_token)
    session.GRAPH = fake_origin()
    # The CrashReporter of FacebookAdsApi.init would post tracebacks to Meta: build the API directly.
    return FacebookAdsApi(session, api_version=VERSION)


def oauth_session():
    app_id, _ = app()
    session = facebook_compliance_fix(OAuth2Session(app_id, redirect_uri=CALLBACK, scope=SCOPES))
    adapter().mount_on(session)
    return session


def dialog(session):
    url, _ = session.authorization_url(DIALOG_URL)
    return redirect_query(browser(adapter()).get(url, allow_redirects=False))


def login(method="POST"):
    """A user token: the dialog, then the code exchange by POST (requests-oauthlib's default,
    credentials as HTTP Basic) or by GET (Meta's documented form, credentials in the query)."""
    session = oauth_session()
    location, query = dialog(session)
    assert "code" in query and query.get("state"), query
    _, secret = app()
    if method == "GET":
        return session.fetch_token(TOKEN_URL, client_secret=secret, authorization_response=location, method="GET", include_client_id=True)
    return session.fetch_token(TOKEN_URL, client_secret=secret, authorization_response=location)


def long_lived(short):
    app_id, secret = app()
    params = {"grant_type": "fb_exchange_token", "client_id": app_id, "client_secret": secret, "fb_exchange_token": short}
    return graph(short).call("GET", ("oauth", "access_token"), params=params).json()


def graph_error(function, *args, **kwargs):
    return raises(FacebookRequestError, function, *args, **kwargs)


def reset():
    control("/meta/pages", PAGES[:1])
    control("/meta/settings", {"require_appsecret_proof": False, "page_size": 100})


@check
def the_code_exchange_works_by_post_and_by_get():
    reset()
    for method in ("POST", "GET"):
        token = login(method)
        assert token["token_type"].lower() == "bearer" and token["access_token"], token
        assert 0 < token["expires_in"] < 10_000, "a short-lived token"


@check
def a_code_works_once_and_only_for_its_redirect_uri():
    reset()
    session = oauth_session()
    location, query = dialog(session)
    _, secret = app()
    session.fetch_token(TOKEN_URL, client_secret=secret, authorization_response=location)
    error = raises(oauth_errors.OAuth2Error, session.fetch_token, TOKEN_URL, client_secret=secret, authorization_response=location)
    assert "authorization code has been used" in str(error), error


@check
def a_denied_login_comes_back_with_metas_error_fields():
    control("/meta/deny-next-login")
    session = oauth_session()
    location, query = dialog(session)
    assert query["error"] == "access_denied" and query["error_reason"] == "user_denied" and "code" not in query, query
    raises(oauth_errors.AccessDeniedError, session.fetch_token, TOKEN_URL, client_secret=app()[1], authorization_response=location)


@check
def a_short_lived_token_becomes_a_long_lived_one():
    reset()
    exchanged = long_lived(login()["access_token"])
    assert exchanged["token_type"] == "bearer" and exchanged["expires_in"] == 5_183_944, exchanged
    me = User(fbid="me", api=graph(exchanged["access_token"])).api_get(fields=["name"])
    assert me["id"] and me["name"], me


@check
def me_accounts_pages_with_cursors_and_next():
    reset()
    control("/meta/pages", PAGES)
    control("/meta/settings", {"page_size": 1, "require_appsecret_proof": True})
    try:
        token = long_lived(login()["access_token"])["access_token"]
        pages = list(User(fbid="me", api=graph(token)).get_accounts(fields=["name", "access_token", "instagram_business_account"]))
        # Graph caps a page whatever limit asks; the cursor still reaches every Page.
        capped = list(User(fbid="me", api=graph(token)).get_accounts(fields=["name"], params={"limit": 100}))
    finally:
        reset()
    assert [page["id"] for page in pages] == ["501", "502", "503"], pages
    assert [page["id"] for page in capped] == ["501", "502", "503"], capped
    assert all(page["access_token"] for page in pages)
    assert "category" not in pages[0], "only the fields asked for"
    # A nested node without subfields is its id only (facebook-business makes it an IGUser).
    instagram = pages[0]["instagram_business_account"]
    assert instagram["id"] == "17841400000000501" and "username" not in instagram, instagram
    assert "instagram_business_account" not in pages[1]


@check
def page_and_instagram_reads_honour_fields():
    reset()
    token = long_lived(login()["access_token"])["access_token"]
    page = next(iter(User(fbid="me", api=graph(token)).get_accounts(fields=["access_token"])))
    page_api = graph(page["access_token"])
    # facebook-business reads nodes as /v25.0/{id}/ with a trailing slash.
    read = Page(page["id"], api=page_api).api_get(fields=["name", "instagram_business_account"])
    assert read["name"] == "Corner Bakery" and read["instagram_business_account"]["id"] == "17841400000000501", read
    assert "category" not in read
    instagram = IGUser("17841400000000501", api=page_api).api_get(fields=["username", "followers_count"])
    assert instagram["username"] == "cornerbakery" and instagram["followers_count"] >= 0, instagram
    # A Page token reads its own Page only.
    error = graph_error(Page("502", api=page_api).api_get)
    assert (error.api_error_code(), error.api_error_subcode()) == (100, 33)


@check
def an_unknown_object_is_a_graph_method_exception():
    reset()
    token = login()["access_token"]
    error = graph_error(Page("999999", api=graph(token)).api_get, fields=["name"])
    assert error.api_error_code() == 100 and error.api_error_subcode() == 33, error.body()
    assert error.api_error_type() == "GraphMethodException", error.body()
    assert "Object with ID '999999' does not exist" in error.api_error_message()


@check
def an_unknown_field_is_refused():
    reset()
    token = login()["access_token"]
    error = graph_error(User(fbid="me", api=graph(token)).api_get, fields=["shoe_size"])
    assert error.api_error_code() == 100 and error.api_error_type() == "OAuthException", error.body()
    assert "nonexisting field (shoe_size)" in error.api_error_message()


@check
def a_wrong_appsecret_proof_is_refused():
    reset()
    token = login()["access_token"]
    error = graph_error(User(fbid="me", api=graph(token, app_secret="not-the-secret")).api_get)
    assert (error.api_error_code(), error.api_error_type()) == (100, "GraphMethodException"), error.body()
    assert "appsecret_proof" in error.api_error_message()
    control("/meta/settings", {"require_appsecret_proof": True})
    try:
        missing = graph_error(User(fbid="me", api=graph(token, with_secret=False)).api_get)
        assert "appsecret_proof" in missing.api_error_message(), missing.body()
        User(fbid="me", api=graph(token)).api_get()
    finally:
        reset()


@check
def debug_token_takes_an_app_token():
    reset()
    app_id, secret = app()
    client = OAuth2Session(client=BackendApplicationClient(client_id=app_id))
    adapter().mount_on(client)
    app_token = client.fetch_token(TOKEN_URL, client_secret=secret, include_client_id=True)["access_token"]
    assert app_token.startswith(f"{app_id}|"), app_token
    user_token = login()["access_token"]
    for token in (app_token, f"{app_id}|{secret}"):
        data = graph(token, with_secret=False).call("GET", ("debug_token",), params={"input_token": user_token}).json()["data"]
        assert data["is_valid"] is True and data["app_id"] == app_id and data["type"] == "USER", data
        assert sorted(data["scopes"]) == sorted(SCOPES), data
    unknown = graph(app_token, with_secret=False).call("GET", ("debug_token",), params={"input_token": "EAAnope"}).json()["data"]
    assert unknown["is_valid"] is False and unknown["error"]["code"] == 190, unknown


@check
def dead_tokens_answer_190_with_their_subcode():
    for subcode in (460, 463):
        reset()
        token = login()["access_token"]
        control("/meta/kill-tokens", {"subcode": subcode})
        error = graph_error(User(fbid="me", api=graph(token)).api_get)
        assert (error.api_error_code(), error.api_error_subcode(), error.api_error_type()) == (190, subcode, "OAuthException"), error.body()
        # A new login issues a live token.
        User(fbid="me", api=graph(login()["access_token"])).api_get()


@check
def a_rate_limit_says_when_access_returns():
    reset()
    token = login()["access_token"]
    control("/meta/faults", {"rate_limit": {"code": 17, "reset_in_secs": 300}})
    try:
        error = graph_error(User(fbid="me", api=graph(token)).api_get)
    finally:
        control("/meta/faults", {"rate_limit": None})
    assert error.api_error_code() == 17 and error.api_transient_error() is True, error.body()
    usage = error.http_headers()["x-business-use-case-usage"]
    assert '"estimated_time_to_regain_access":5' in usage, usage


@check
def an_outage_is_a_transient_error():
    reset()
    token = login()["access_token"]
    control("/meta/faults", {"outage": 500})
    try:
        error = graph_error(User(fbid="me", api=graph(token)).api_get)
    finally:
        control("/meta/faults", {"outage": None})
    assert error.http_status() == 500 and error.api_error_code() == 2 and error.api_transient_error(), error.body()


@check
def injected_latency_slows_every_answer():
    reset()
    token = login()["access_token"]
    control("/meta/faults", {"latency_ms": 300})
    try:
        started = time.monotonic()
        User(fbid="me", api=graph(token)).api_get()
        elapsed = time.monotonic() - started
    finally:
        control("/meta/faults", {"latency_ms": 0})
    assert elapsed >= 0.3, elapsed


@check
def the_dialog_refuses_unknown_permissions():
    app_id, _ = app()
    session = OAuth2Session(app_id, redirect_uri=CALLBACK, scope=SCOPES + ["pages_manage_everything"])
    url, _ = session.authorization_url(DIALOG_URL)
    response = browser(adapter()).get(url, allow_redirects=False)
    assert response.status_code == 400 and "Invalid Scopes: pages_manage_everything" in response.text, response.text
