//! The OpenAPI document is generated from code; `docs/openapi.json` is its checked-in copy.
//! Run with `UPDATE_OPENAPI=1` to refresh the copy after a deliberate API change.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::PathBuf;

use postroute_test_support::{TestApp, db_test};

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_checked_in_document_matches_the_code() {
    let generated = postroute_server::http::openapi::document();
    let path = checked_in_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).expect("write docs/openapi.json");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in.trim_end() == generated,
        "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p postroute-server \
         --test openapi` and commit the result (note API changes in docs/api-changes.md)"
    );
}

db_test!(
    async fn the_served_document_is_the_generated_one(backend) {
        let app = TestApp::spawn(backend).await;
        let served = app.get("/v1/openapi.json", 200).await.json();
        let generated: serde_json::Value =
            serde_json::from_str(&postroute_server::http::openapi::document()).expect("JSON");
        assert_eq!(served, generated);
        assert!(served["paths"]["/readyz"]["get"].is_object());
        assert!(served["openapi"].as_str().is_some_and(|version| version.starts_with("3.")));
    }
);

/// OpenAPI requires each operation's id to be unique: client generators name methods after them.
#[test]
fn every_operation_has_its_own_id() {
    let document: serde_json::Value =
        serde_json::from_str(&postroute_server::http::openapi::document()).expect("JSON");
    let mut seen = std::collections::HashMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            if let Some(earlier) = seen.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId `{id}` names both {earlier} and {method} {path}");
            }
        }
    }
}
