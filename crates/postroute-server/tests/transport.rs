//! The edge below the router, over the network: how long connections live, how large a request
//! head may be, and that every response arrives whole, for HTTP/1.1 and HTTP/2 alike.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use postroute_http::edge::header_limit::{MAX_HEADER_FIELDS, transport_cap};
use postroute_test_support::{Backend, TestApp, TestResponse, db_test};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Http1,
    Http2,
}

const VERSIONS: [Version; 2] = [Version::Http1, Version::Http2];

/// A reqwest client that speaks only `version`.
fn client(app: &TestApp, version: Version) -> reqwest::Client {
    let builder = app.client_builder().timeout(Duration::from_secs(30));
    match version {
        Version::Http1 => builder.http1_only(),
        Version::Http2 => builder.http2_prior_knowledge(),
    }
    .build()
    .unwrap()
}

/// Sends `request`, checks it went over `version`, reads the whole response.
async fn fetch(request: reqwest::RequestBuilder, version: Version) -> TestResponse {
    let response = request.send().await.expect("the request is answered");
    let expected = match version {
        Version::Http1 => reqwest::Version::HTTP_11,
        Version::Http2 => reqwest::Version::HTTP_2,
    };
    assert_eq!(response.version(), expected);
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("the whole body").to_vec();
    TestResponse { status, headers, body }
}

/// The refusal of a request head over the limit, whichever version carried it.
fn assert_header_refusal(response: &TestResponse, context: &str) {
    assert_eq!(response.status, 431, "{context}: {}", String::from_utf8_lossy(&response.body));
    response.assert_security_headers(context);
    let request_id = response.header("x-request-id").expect("a request id");
    assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{context}: {request_id}");
    assert_eq!(response.header("content-type"), Some("application/problem+json"), "{context}");
    let problem = response.json();
    assert_eq!(problem["status"], 431, "{context}");
    assert_eq!(problem["code"], "headers_too_large", "{context}");
}

#[db_test]
// proves S-EDGE-4
// proves S-EDGE-5
async fn a_header_block_over_the_limit_is_the_same_431_problem_in_both_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let limit = app.config.http.max_header_bytes;
    for version in VERSIONS {
        let client = client(&app, version);
        let healthz = || client.get(app.url("/healthz"));

        let fits = "f".repeat(limit - 1024);
        let response = fetch(healthz().header("x-padding", fits), version).await;
        assert_eq!(response.status, 200, "{version:?}: a head under the limit is served");

        let over = "o".repeat(limit + 1024);
        let response = fetch(healthz().header("x-padding", over), version).await;
        assert_header_refusal(&response, &format!("{version:?}, one large field"));

        let mut many = healthz();
        for field in 0..=MAX_HEADER_FIELDS {
            many = many.header(format!("x-field-{field}"), "1");
        }
        let response = fetch(many, version).await;
        assert_header_refusal(&response, &format!("{version:?}, too many fields"));
    }
}

#[db_test]
async fn a_head_over_the_transport_cap_is_still_refused_and_the_refusal_arrives(backend: Backend) {
    // hyper answers this one itself, before any layer, so without the security headers
    // (docs/security.md). It stops reading mid-head with the rest of the head still coming:
    // the answer must reach the client all the same, connection after connection.
    let app = TestApp::spawn(backend).await;
    let cap = transport_cap(app.config.http.max_header_bytes);
    let huge = "h".repeat(cap + 4096);
    for _ in 0..10 {
        let response = fetch(
            client(&app, Version::Http1).get(app.url("/healthz")).header("x-padding", &huge),
            Version::Http1,
        )
        .await;
        assert_eq!(response.status, 431);
    }
}

/// A TLS connection offering only `version`, and hyper's client on it: its connection task ends
/// when the server closes the connection.
struct RawConnection {
    send: Sender,
    closed: tokio::task::JoinHandle<()>,
}

enum Sender {
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl RawConnection {
    async fn open(app: &TestApp, version: Version) -> Self {
        let alpn: &[u8] = match version {
            Version::Http1 => b"http/1.1",
            Version::Http2 => b"h2",
        };
        let io = TokioIo::new(app.tls_connect_alpn(alpn).await.unwrap());
        match version {
            Version::Http1 => {
                let (send, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
                let closed = tokio::spawn(async move {
                    let _ = connection.await;
                });
                Self { send: Sender::Http1(send), closed }
            }
            Version::Http2 => {
                let (send, connection) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
                let closed = tokio::spawn(async move {
                    let _ = connection.await;
                });
                Self { send: Sender::Http2(send), closed }
            }
        }
    }

    /// Sends `method path` with `body` and reads the whole response: status, Content-Length
    /// and body.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, Option<usize>, Result<Bytes, hyper::Error>) {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"))
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap();
        let response = match &mut self.send {
            Sender::Http1(send) => {
                send.ready().await.unwrap();
                let mut request = request;
                // HTTP/1 requests are origin-form, with the authority in Host.
                *request.uri_mut() = path.parse().unwrap();
                request.headers_mut().insert("host", "localhost".parse().unwrap());
                send.send_request(request).await
            }
            Sender::Http2(send) => {
                send.ready().await.unwrap();
                send.send_request(request).await
            }
        }
        .expect("a response head");
        let status = response.status().as_u16();
        let length = response
            .headers()
            .get("content-length")
            .map(|value| value.to_str().unwrap().parse().unwrap());
        let body = response.into_body().collect().await.map(|collected| collected.to_bytes());
        (status, length, body)
    }
}

#[db_test]
// proves S-EDGE-5
async fn a_connection_with_no_request_in_flight_is_closed_after_the_idle_timeout(backend: Backend) {
    // The header deadline is long, so only the idle timeout can close the connection in
    // time; HTTP/2 used to stay open for as long as the client liked.
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.http.idle_timeout_secs = 1;
            config.http.header_read_timeout_secs = 60;
        })
        .spawn()
        .await;
    for version in VERSIONS {
        let mut connection = RawConnection::open(&app, version).await;
        let (status, _, body) = connection.send("GET", "/healthz", b"").await;
        assert_eq!(status, 200, "{version:?}");
        body.expect("a whole body");
        // The client keeps its half open: only the server can end the connection.
        let RawConnection { send, closed } = connection;
        let ended = tokio::time::timeout(Duration::from_secs(20), closed).await;
        assert!(ended.is_ok(), "{version:?}: the server closed the idle connection");
        drop(send);
    }
}

/// The routes a client may send a body to although they read none.
const BODYLESS: [(&str, &str, u16); 4] = [
    ("GET", "/v1/openapi.json", 200),
    ("GET", "/healthz", 200),
    ("GET", "/no/such/path", 404),
    ("DELETE", "/healthz", 405),
];

/// How a hand-written HTTP/1.1 request frames its body.
#[derive(Clone, Copy, Debug)]
enum Framing {
    Length,
    Chunked,
}

/// Sends an HTTP/1.1 request by hand over TLS, writing the body while reading the answer, and
/// returns the status, the declared length and the body that arrived before the server closed.
async fn by_hand(
    app: &TestApp,
    method: &str,
    path: &str,
    body: &[u8],
    framing: Framing,
) -> (u16, usize, Vec<u8>) {
    let tls = app.tls_connect_alpn(b"http/1.1").await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(tls);
    // `Connection: close`: the server ends the exchange once it has answered (a body it read
    // ahead leaves the connection reusable, and this client reads until the server closes).
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n")
            .into_bytes();
    match framing {
        Framing::Length => {
            request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            request.extend_from_slice(body);
        }
        Framing::Chunked => {
            request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(16 * 1024) {
                request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                request.extend_from_slice(chunk);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"0\r\n\r\n");
        }
    }
    // The server may stop reading: the write then fails or stalls, and that is its right.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    });
    let mut received = Vec::new();
    let read = reader.read_to_end(&mut received).await;
    writing.abort();
    let head_end =
        received.windows(4).position(|window| window == b"\r\n\r\n").unwrap_or_else(|| {
            panic!("no response head ({read:?}): {}", String::from_utf8_lossy(&received))
        }) + 4;
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("a Content-Length")
        .trim()
        .parse()
        .unwrap();
    let body = received[head_end..].to_vec();
    assert_eq!(
        body.len(),
        length,
        "{method} {path} ({framing:?}): the body was cut short ({read:?})"
    );
    (status, length, body)
}

#[db_test]
async fn a_response_arrives_whole_when_the_request_body_goes_unread(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let document = app.get("/v1/openapi.json", 200).await.body;
    // Within the lingering budget. A body sent with Content-Length this small is read ahead
    // of the handler (so it is not left unread at all); a chunked one is left unread.
    let unread = vec![b'u'; 100_000];
    for _round in 0..30 {
        for (method, path, status) in BODYLESS {
            for framing in [Framing::Length, Framing::Chunked] {
                let (got, length, body) = by_hand(&app, method, path, &unread, framing).await;
                assert_eq!(got, status, "{method} {path} ({framing:?})");
                if path == "/v1/openapi.json" {
                    assert_eq!(length, document.len());
                    assert_eq!(body, document);
                }
            }
            for version in VERSIONS {
                let mut connection = RawConnection::open(&app, version).await;
                let (got, length, body) = connection.send(method, path, &unread).await;
                let context = format!("{method} {path} over {version:?}");
                assert_eq!(got, status, "{context}");
                let body =
                    body.unwrap_or_else(|error| panic!("{context}: body cut short: {error}"));
                if let Some(length) = length {
                    assert_eq!(body.len(), length, "{context}");
                }
                if path == "/v1/openapi.json" {
                    assert_eq!(body.as_ref(), document.as_slice(), "{context}");
                }
            }
        }
    }
}
