"""What every referee check shares: where the fakes are, the control API, the transport adapter
that sends a library's production URLs to a fake, and the check registry."""

import http.server
import os
import socket
import threading
import traceback
import urllib.parse

import requests
from requests.adapters import HTTPAdapter

CHECKS = []


def check(function):
    """Registers a check: a function that raises (usually AssertionError) when the fake is wrong."""
    CHECKS.append(function)
    return function


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: run the suite through `cargo test -p postroute-fakes --test referee`")
    return value



def control(path, body=None, method="POST"):
    """Calls the fakes' control API; returns the decoded JSON body, if any."""
    url = env("REFEREE_CONTROL_URL").rstrip("/") + path
    response = requests.request(method, url, json=body if method == "POST" else None, timeout=10)
    assert response.status_code in (200, 204), f"control {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00referee-jpeg"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00referee-mp4-bytes"
_MEDIA = {"/photo.jpg": (JPEG, "image/jpeg"), "/clip.mp4": (MP4, "video/mp4"), "/notes.txt": (b"not a photo", "text/plain")}
_media_host = []


class _MediaFiles(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        body, kind = _MEDIA.get(self.path, (None, None))
        self.send_response(200 if body else 404)
        self.send_header("content-type", kind or "text/plain")
        self.send_header("content-length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def media_url(name):
    """A public URL of a media file (`photo.jpg`, `clip.mp4`, `notes.txt`; anything else is 404),
    as PostRoute's signed media links are: the platform fetches it."""
    if not _media_host:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MediaFiles)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _media_host.append(f"http://127.0.0.1:{server.server_address[1]}")
    return f"{_media_host[0]}/{name}"


class Redirect(HTTPAdapter):
    """A transport adapter for a library's own requests session: requests for a production origin
    (`https://api.twitter.com`) go to the fake's origin instead, path and query untouched. The
    production URLs the library asked for are kept in `seen`."""

    def __init__(self, routes):
        super().__init__()
        self.routes = {prod.rstrip("/"): fake.rstrip("/") for prod, fake in routes.items()}
        self.seen = []

    def send(self, request, **kwargs):
        for production, fake in self.routes.items():
            if request.url == production or request.url.startswith(production + "/"):
                self.seen.append(request.url)
                request.url = fake + request.url[len(production):]
                break
        else:
            raise AssertionError(f"a request escaped the fakes: {request.url}")
        return super().send(request, **kwargs)

    def mount_on(self, session):
        for production in self.routes:
            session.mount(production + "/", self)
        return session


def browser(adapter):
    """A browser that does not follow redirects, so a check reads where the fake sends it."""
    session = adapter.mount_on(requests.Session())
    return session


def redirect_query(response):
    """The query of a redirect's Location, as a dict."""
    assert response.status_code in (302, 303), f"expected a redirect, got {response.status_code}: {response.text}"
    location = response.headers["location"]
    return location, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def raises(kind, function, *args, **kwargs):
    """Runs `function` and returns the exception of type `kind` it must raise."""
    try:
        function(*args, **kwargs)
    except kind as error:
        return error
    raise AssertionError(f"{getattr(function, '__name__', function)} did not raise {kind.__name__}")


_real_getaddrinfo = socket.getaddrinfo


def keep_to_loopback():
    """Refuses name lookups other than the loopback the fakes listen on: a library call that
    escapes the transport adapter fails loudly instead of reaching a real platform."""

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"the referee must not reach {host}: a request escaped the fakes")
        return _real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = guarded


def run(selected=None):
    """Runs the registered checks (those whose name contains `selected`); returns the failures."""
    failures = []
    for function in CHECKS:
        name = f"{function.__module__}.{function.__name__}"
        if selected and selected not in name:
            continue
        try:
            function()
        except Exception:  # noqa: BLE001 - every failure is reported, none stops the run
            failures.append(name)
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
        else:
            print(f"ok   {name}", flush=True)
    return failures
