//! Graceful shutdown: a request in flight finishes, new connections are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use postroute_test_support::{Backend, TestApp, db_test};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[db_test]
async fn a_request_in_flight_finishes_after_shutdown_begins(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let body = br#"{"email":"slow@example.com","password":"typed very slowly"}"#;
    let (first_half, second_half) = body.split_at(body.len() / 2);

    let mut connection = app.tls_connect(&[&rustls::version::TLS13]).await.unwrap();
    let head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    connection.write_all(head.as_bytes()).await.unwrap();
    connection.write_all(first_half).await.unwrap();
    connection.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.tls_connect(&[&rustls::version::TLS13]).await.is_err(),
        "no new connections once shutdown has begun"
    );

    connection.write_all(second_half).await.unwrap();
    let mut response = Vec::new();
    connection.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("invalid_credentials"), "{response}");
    tokio::time::timeout(Duration::from_secs(10), app.shutdown())
        .await
        .expect("shutdown completes");
}
