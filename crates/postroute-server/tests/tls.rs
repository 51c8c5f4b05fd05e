//! The HTTPS listener's protocol versions, and the plain listener's opt-in.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_app::config::TlsMinVersion;
use postroute_test_support::{Backend, TestApp, db_test};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Connects with only `versions` offered; returns the negotiated version or the handshake error.
async fn handshake(
    app: &TestApp,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<rustls::ProtocolVersion, std::io::Error> {
    let mut tls = app.tls_connect(versions).await?;
    let version = tls.get_ref().1.protocol_version().expect("negotiated version");
    // Prove the channel carries HTTP, not just a handshake.
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    assert!(response.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response));
    Ok(version)
}

#[db_test]
// proves S-TLS-1
async fn only_tls_1_3_is_accepted_by_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let version = handshake(&app, &[&rustls::version::TLS13]).await.expect("TLS 1.3 works");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);

    let refused = handshake(&app, &[&rustls::version::TLS12]).await;
    assert!(refused.is_err(), "a TLS 1.2-only client must fail the handshake");
}

#[db_test]
// proves S-TLS-1
async fn tls_1_2_is_accepted_only_when_configured(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.http.tls_min_version = TlsMinVersion::Tls12)
        .spawn()
        .await;
    let version = handshake(&app, &[&rustls::version::TLS12]).await.expect("TLS 1.2 allowed");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    let version = handshake(&app, rustls::ALL_VERSIONS).await.expect("TLS 1.3 preferred");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
}

#[db_test]
// proves S-TLS-3
async fn the_plain_listener_exists_only_when_configured(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    assert_eq!(app.plain_addr(), None);
    drop(app);

    let app = TestApp::builder(backend)
        .configure(|config| config.http.plain_listen = Some("127.0.0.1:0".parse().unwrap()))
        .spawn()
        .await;
    let address = app.plain_addr().expect("plain listener");
    let response = reqwest::get(format!("http://{address}/healthz")).await.expect("plain HTTP");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}
