"""Meta, refereed by facebook-business and requests-oauthlib: the login dialog, the code exchange
by POST and by GET, long-lived and app tokens, debug_token, /me/accounts paging, Page and
Instagram reads with `fields` and `appsecret_proof`, Graph's errors, and publishing: Page feed,
photos (published, and unpublished then attached_media) and resumable video, Instagram
containers with status polling and media_publish, the listings reconciliation reads, and the
faults armed on the irreversible calls."""

import json
import time
import urllib.parse

import oauthlib.oauth2.rfc6749.errors as oauth_errors
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.page import Page
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.adobjects.user import User
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session
from requests_oauthlib.compliance_fixes import facebook_compliance_fix

from common import MP4, Redirect, browser, check, control, env, media_url, raises, redirect_query

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


# Publishing, with the permissions the publisher asks for.
PUBLISH_SCOPES = SCOPES + ["pages_manage_posts", "instagram_basic", "instagram_content_publish"]
PAGE_ID = "501"
IG_ID = "17841400000000501"


def publisher():
    """A long-lived user token with the publishing permissions, and the Page's token."""
    reset()
    control("/meta/settings", {"container_ready_ms": 300, "container_lifetime_secs": 86400, "publishing_limit": 100})
    app_id, secret = app()
    session = facebook_compliance_fix(OAuth2Session(app_id, redirect_uri=CALLBACK, scope=PUBLISH_SCOPES))
    adapter().mount_on(session)
    location, _ = dialog(session)
    short = session.fetch_token(TOKEN_URL, client_secret=secret, authorization_response=location)["access_token"]
    user = long_lived(short)["access_token"]
    page = next(iter(User(fbid="me", api=graph(user)).get_accounts(fields=["access_token"])))["access_token"]
    return user, page


def published():
    return control("/meta/published", method="GET")


def status_code(container, api):
    return ShadowIGMediaBuilder(container, api=api).api_get(fields=["status_code", "status"])["status_code"]


def unique(text):
    # The fake refuses a Page's duplicate status message (506), as Graph does.
    return f"{text} {time.monotonic_ns()}"


@check
def page_feed_photos_and_albums_through_facebook_business():
    _, page_token = publisher()
    page = Page(PAGE_ID, api=graph(page_token))
    message = unique("Fresh bread")
    post = page.create_feed(params={"message": message})
    assert post["id"].startswith(f"{PAGE_ID}_"), post
    assert graph_error(page.create_feed, params={"message": message}).api_error_code() == 506
    photo = page.create_photo(params={"url": media_url("photo.jpg"), "caption": "Rye"})
    assert photo["post_id"].startswith(f"{PAGE_ID}_") and photo["id"], photo
    # A file upload as facebook-business sends one: multipart with `source`.
    with_file = graph(page_token).call("POST", (PAGE_ID, "photos"), params={"caption": "Spelt"}, files={"source": ("s.jpg", b"\xff\xd8\xff\xe0spelt")}).json()
    assert with_file["post_id"], with_file
    unpublished = [page.create_photo(params={"url": media_url("photo.jpg"), "published": False, "temporary": True}) for _ in range(2)]
    assert all("post_id" not in item for item in unpublished), unpublished
    album = page.create_feed(params={"message": unique("Two loaves"), "attached_media": [{"media_fbid": item["id"]} for item in unpublished]})
    posts = list(page.get_published_posts(fields=["message", "created_time", "attachments{media_type}"], params={"limit": 2}))
    assert posts[0]["id"] == album["id"] and posts[0]["attachments"]["data"][0]["media_type"] == "album", posts[0]
    # Two a page: the cursor follows `next` past the first page, newest first.
    assert [item["id"] for item in posts[:4]] == [album["id"], with_file["post_id"], photo["post_id"], post["id"]], posts
    assert posts[1]["message"] == "Spelt" and posts[1]["created_time"].endswith("+0000"), posts[1]
    record = [item for item in published() if item["platform"] == "facebook"]
    assert [item["id"] for item in record][-1] == album["id"] and record[-1]["media"] == [item["id"] for item in unpublished], record[-1]
    error = graph_error(page.create_photo, params={"url": media_url("missing.jpg")})
    assert error.api_error_code() == 324, error.body()


@check
def publishing_answers_carry_business_use_case_usage():
    _, page_token = publisher()
    answer = graph(page_token).call("POST", (PAGE_ID, "feed"), params={"message": unique("Counted")})
    usage = json.loads(answer.headers()["x-business-use-case-usage"])
    assert usage[PAGE_ID][0]["type"] == "pages" and "estimated_time_to_regain_access" in usage[PAGE_ID][0], usage


@check
def a_user_token_cannot_post_as_the_page():
    user, _ = publisher()
    error = graph_error(Page(PAGE_ID, api=graph(user)).create_feed, params={"message": unique("as me")})
    assert error.api_error_code() == 200 and error.http_status() == 403, error.body()


@check
def a_page_video_uploads_in_phases():
    _, page_token = publisher()
    api = graph(page_token)
    start = api.call("POST", (PAGE_ID, "videos"), params={"upload_phase": "start", "file_size": len(MP4)}).json()
    assert start["start_offset"] == "0" and int(start["end_offset"]) == len(MP4), start
    transfer = api.call(
        "POST",
        (PAGE_ID, "videos"),
        params={"upload_phase": "transfer", "upload_session_id": start["upload_session_id"], "start_offset": start["start_offset"]},
        files={"video_file_chunk": ("c.mp4", MP4)},
    ).json()
    assert transfer["start_offset"] == transfer["end_offset"] == str(len(MP4)), transfer
    finish = api.call("POST", (PAGE_ID, "videos"), params={"upload_phase": "finish", "upload_session_id": start["upload_session_id"], "description": "Kneading"}).json()
    assert finish["success"] is True, finish
    assert published()[-1]["media"] == [start["video_id"]]


@check
def an_instagram_container_is_polled_to_finished_then_published():
    user, _ = publisher()
    api = graph(user)
    account = IGUser(IG_ID, api=api)
    caption = unique("Croissants")
    container = account.create_media(params={"image_url": media_url("photo.jpg"), "caption": caption})["id"]
    assert status_code(container, api) == "IN_PROGRESS"
    early = graph_error(account.create_media_publish, params={"creation_id": int(container)})
    assert (early.api_error_code(), early.api_error_subcode()) == (9007, 2207027), early.body()
    deadline = time.monotonic() + 5
    while status_code(container, api) == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status_code(container, api) == "FINISHED"
    limit = list(account.get_content_publishing_limit(fields=["quota_usage", "config"]))[0]
    assert limit["config"]["quota_total"] == 100 and limit["config"]["quota_duration"] == 86400, limit
    used = limit["quota_usage"]
    media = account.create_media_publish(params={"creation_id": int(container)})
    assert status_code(container, api) == "PUBLISHED"
    assert list(account.get_content_publishing_limit(fields=["quota_usage"]))[0]["quota_usage"] == used + 1
    listed = list(account.get_media(fields=["id", "caption", "timestamp", "media_type", "permalink"], params={"limit": 10}))
    assert listed[0]["id"] == media["id"] and listed[0]["caption"] == caption and listed[0]["media_type"] == "IMAGE", listed[0]
    before = control("/meta/state", method="GET")["republish_attempts"]
    graph_error(account.create_media_publish, params={"creation_id": int(container)})
    assert control("/meta/state", method="GET")["republish_attempts"] == before + 1
    assert published()[-1]["id"] == media["id"] and published()[-1]["platform"] == "instagram"


@check
def carousels_and_reels_publish_and_bad_media_is_refused():
    user, _ = publisher()
    control("/meta/settings", {"container_ready_ms": 0})
    api = graph(user)
    account = IGUser(IG_ID, api=api)
    children = [account.create_media(params={"image_url": media_url("photo.jpg"), "is_carousel_item": True})["id"] for _ in range(3)]
    parent = account.create_media(params={"media_type": "CAROUSEL", "children": children, "caption": unique("Box")})["id"]
    carousel = account.create_media_publish(params={"creation_id": int(parent)})
    reel = account.create_media(params={"media_type": "REELS", "video_url": media_url("clip.mp4"), "caption": unique("Reel")})["id"]
    account.create_media_publish(params={"creation_id": int(reel)})
    listed = list(account.get_media(fields=["media_type", "media_product_type"], params={"limit": 2}))[:2]
    assert [item["media_product_type"] for item in listed] == ["REELS", "FEED"] and listed[1]["id"] == carousel["id"], listed
    assert listed[1]["media_type"] == "CAROUSEL_ALBUM", listed
    assert len(published()[-2]["media"]) == 3, "a carousel records its children's media"
    for url in (media_url("missing.jpg"), media_url("notes.txt")):
        error = graph_error(account.create_media, params={"image_url": url})
        assert (error.api_error_code(), error.api_error_subcode()) == (9004, 2207052), error.body()
    broken = account.create_media(params={"media_type": "REELS", "video_url": media_url("photo.jpg")})["id"]
    assert status_code(broken, api) == "ERROR"
    control("/meta/settings", {"container_lifetime_secs": 1})
    try:
        stale = account.create_media(params={"image_url": media_url("photo.jpg")})["id"]
        time.sleep(1.1)
        assert status_code(stale, api) == "EXPIRED"
    finally:
        control("/meta/settings", {"container_lifetime_secs": 86400})


@check
def lost_answers_leave_the_post_and_armed_refusals_leave_nothing():
    user, page_token = publisher()
    control("/meta/settings", {"container_ready_ms": 0})
    api = graph(user)
    account = IGUser(IG_ID, api=api)
    container = account.create_media(params={"image_url": media_url("photo.jpg"), "caption": unique("Lost")})["id"]
    control("/meta/publish-faults", {"fault": "created_then_500", "call": "media_publish"})
    error = graph_error(account.create_media_publish, params={"creation_id": int(container)})
    assert error.http_status() == 500 and error.api_error_code() == 2 and error.api_transient_error(), error.body()
    # Meta's recipe: read the container; PUBLISHED means the post is live.
    assert status_code(container, api) == "PUBLISHED"
    page = Page(PAGE_ID, api=graph(page_token))
    late = unique("No answer in time")
    control("/meta/publish-faults", {"fault": "created_then_timeout", "call": "feed", "hang_secs": 2})
    try:
        error = graph_error(page.create_feed, params={"message": late})
    finally:
        control("/meta/publish-faults", {"clear": True, "hang_secs": 120})
    assert error.http_status() == 504, error.body()
    assert list(page.get_published_posts(fields=["message"]))[0]["message"] == late
    count = len(published())
    cases = [
        ({"fault": "server_error"}, (500, 2)),
        ({"fault": "rate_limited", "code": 32, "reset_in_secs": 600}, (400, 32)),
        ({"fault": "auth_dead", "subcode": 460}, (400, 190)),
        ({"fault": "permission"}, (403, 200)),
        ({"fault": "duplicate"}, (400, 506)),
        ({"fault": "graph_error", "code": 368, "message": "(#368) deemed abusive"}, (400, 368)),
    ]
    for fault, expected in cases:
        control("/meta/publish-faults", fault)
        try:
            error = graph_error(page.create_feed, params={"message": unique("refused")})
        finally:
            control("/meta/publish-faults", {"clear": True})
        assert (error.http_status(), error.api_error_code()) == expected, (fault, error.body())
        if fault["fault"] == "rate_limited":
            assert '"estimated_time_to_regain_access":10' in error.http_headers()["x-business-use-case-usage"]
    assert len(published()) == count, "a refusal creates nothing"
    control("/meta/publish-faults", {"fault": "graph_error", "call": "media", "code": 9004, "subcode": 2207052})
    error = graph_error(account.create_media, params={"image_url": media_url("photo.jpg")})
    assert (error.api_error_code(), error.api_error_subcode()) == (9004, 2207052)
    account.create_media(params={"image_url": media_url("photo.jpg")})


@check
def the_publishing_limit_is_enforced_at_media_publish():
    user, _ = publisher()
    control("/meta/settings", {"container_ready_ms": 0})
    account = IGUser(IG_ID, api=graph(user))
    used = list(account.get_content_publishing_limit(fields=["quota_usage"]))[0]["quota_usage"]
    control("/meta/settings", {"publishing_limit": used})
    try:
        container = account.create_media(params={"image_url": media_url("photo.jpg")})["id"]
        error = graph_error(account.create_media_publish, params={"creation_id": int(container)})
    finally:
        control("/meta/settings", {"publishing_limit": 100})
    assert (error.api_error_code(), error.api_error_subcode()) == (9, 2207042), error.body()
