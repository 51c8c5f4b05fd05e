//! What the publishing tests share: signing in to the fakes the way a browser and a client do,
//! multipart bodies, and a public media host for Instagram to fetch from.

#![allow(dead_code, reason = "each test file uses its own part")]

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use postroute_fakes::{FakeMeta, FakeX};
use serde_json::Value;

pub const X_CLIENT: (&str, &str) = ("client-1", "secret-1");
pub const META_APP: (&str, &str) = ("app-1", "secret-1");
const REDIRECT: &str = "https://postroute.example/callback";

/// A JPEG's first bytes: enough for a platform's sniffing.
pub const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-jpeg-bytes";
/// An MP4's first bytes (`ftyp` box).
pub const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00fake-mp4-bytes";

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// An X user access token with `scopes`, through the authorize page and the token endpoint.
pub async fn x_token(fake: &FakeX, scopes: &str) -> String {
    let verifier = "v".repeat(50);
    let mut authorize = fake.base_url().join("i/oauth2/authorize").unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", X_CLIENT.0)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scopes)
        .append_pair("state", "s")
        .append_pair("code_challenge", &verifier)
        .append_pair("code_challenge_method", "plain");
    let redirect = browser().get(authorize).send().await.unwrap();
    let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(key, _)| key == "code").unwrap().1.into_owned();
    let token: Value = reqwest::Client::new()
        .post(fake.base_url().join("2/oauth2/token").unwrap())
        .basic_auth(X_CLIENT.0, Some(X_CLIENT.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

/// A Meta user token with `scopes` and the token of the first Page, which inherits them.
pub async fn meta_tokens(fake: &FakeMeta, scopes: &str) -> (String, String) {
    let mut dialog = fake.dialog_url().join("dialog/oauth").unwrap();
    dialog
        .query_pairs_mut()
        .append_pair("client_id", META_APP.0)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scopes)
        .append_pair("state", "s");
    let redirect = browser().get(dialog).send().await.unwrap();
    let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(key, _)| key == "code").unwrap().1.into_owned();
    let mut exchange = fake.graph_url().join("oauth/access_token").unwrap();
    exchange
        .query_pairs_mut()
        .append_pair("client_id", META_APP.0)
        .append_pair("client_secret", META_APP.1)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code", &code);
    let token: Value = reqwest::get(exchange).await.unwrap().json().await.unwrap();
    let user = token["access_token"].as_str().unwrap().to_owned();
    let accounts: Value = reqwest::Client::new()
        .get(fake.graph_url().join("me/accounts?fields=access_token").unwrap())
        .bearer_auth(&user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = accounts["data"][0]["access_token"].as_str().unwrap().to_owned();
    (user, page)
}

/// A multipart/form-data body of text fields and one file; returns (content type, body).
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "postroute-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"upload\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A public host of media files, as PostRoute's signed links are: `/photo.jpg`, `/clip.mp4`,
/// `/notes.txt`; anything else is 404.
pub async fn media_host() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let router = Router::new()
        .route("/photo.jpg", get(|| async { JPEG }))
        .route("/clip.mp4", get(|| async { MP4 }))
        .route("/notes.txt", get(|| async { "not a photo" }))
        .fallback(|| async { StatusCode::NOT_FOUND });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, server)
}
