//! The OpenAPI document is generated from code; `docs/openapi.json` is its checked-in copy.
//! Run with `UPDATE_OPENAPI=1` to refresh the copy after a deliberate API change.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::PathBuf;

use postroute_test_support::{Backend, TestApp, db_test};

fn checked_in(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(name)
}

/// Compares a generated document with its checked-in copy (rewriting the copy first under
/// `UPDATE_OPENAPI`).
fn assert_checked_in(name: &str, generated: &str) {
    let path = checked_in(name);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).expect("write the checked-in document");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in.trim_end() == generated,
        "docs/{name} is out of date: run `UPDATE_OPENAPI=1 cargo test -p postroute-server \
         --test openapi` and commit the result (note API changes in docs/api-changes.md)"
    );
}

#[test]
fn the_checked_in_document_matches_the_code() {
    assert_checked_in("openapi.json", &postroute_http::openapi::document());
}

#[test]
fn the_checked_in_staff_document_matches_the_code() {
    assert_checked_in("openapi-staff.json", &postroute_http::openapi::staff_document());
}

fn public_document() -> serde_json::Value {
    serde_json::from_str(&postroute_http::openapi::document()).expect("JSON")
}

fn operations(document: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    operations
}

/// The staff routes answer 404 to everyone else; the public document must not announce them.
#[test]
fn the_public_document_leaves_the_staff_area_out() {
    let document = public_document();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().all(|path| !path.starts_with("/v1/admin")), "{paths:?}");
    assert!(document["tags"].as_array().unwrap().iter().all(|tag| tag["name"] != "staff"));
    let staff: serde_json::Value =
        serde_json::from_str(&postroute_http::openapi::staff_document()).expect("JSON");
    assert!(staff["paths"]["/v1/admin/events"]["get"].is_object());
    assert!(
        staff["paths"]["/v1/admin/events"]["get"]["responses"]["401"].is_null(),
        "the staff area answers 404, never 401"
    );
}

/// Every refusal is a problem document; every operation says what the edge can answer.
#[test]
fn every_refusal_is_a_documented_problem() {
    let document = public_document();
    for (method, path, operation) in operations(&document) {
        let responses = operation["responses"].as_object().unwrap();
        for status in ["408", "500"] {
            assert!(responses.contains_key(status), "{method} {path} lacks {status}");
        }
        if operation["security"].is_array() {
            assert!(responses.contains_key("401"), "{method} {path} lacks 401");
        }
        for (status, response) in responses {
            let response = match response["$ref"].as_str() {
                Some(location) => {
                    let name = location.strip_prefix("#/components/responses/").unwrap();
                    &document["components"]["responses"][name]
                }
                None => response,
            };
            if status.as_str() >= "400" {
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem"
                );
            }
        }
    }
}

/// Every `$ref` names something the document defines: a schema that only a parameter names is
/// not collected by itself, and a dangling reference leaves that parameter undescribed.
#[test]
fn every_reference_resolves() {
    for (name, document) in [
        ("openapi.json", postroute_http::openapi::document()),
        ("openapi-staff.json", postroute_http::openapi::staff_document()),
    ] {
        let document: serde_json::Value = serde_json::from_str(&document).expect("JSON");
        let mut pending = vec![&document];
        while let Some(value) = pending.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(location) = map.get("$ref").and_then(|location| location.as_str()) {
                        let pointer = location.strip_prefix('#').expect("a local reference");
                        assert!(document.pointer(pointer).is_some(), "{name}: {location} dangles");
                    }
                    pending.extend(map.values());
                }
                serde_json::Value::Array(items) => pending.extend(items),
                _ => {}
            }
        }
    }
}

/// The paging limits in the document are the ones `ListQuery` enforces.
#[test]
fn paging_limits_are_in_the_schema() {
    let document = public_document();
    let mut lists = 0;
    for (method, path, operation) in operations(&document) {
        let Some(parameters) = operation["parameters"].as_array() else { continue };
        if let Some(limit) = parameters.iter().find(|parameter| parameter["name"] == "limit") {
            lists += 1;
            assert_eq!(limit["schema"]["minimum"], 1, "{method} {path}");
            assert_eq!(limit["schema"]["maximum"], 100, "{method} {path}");
            assert!(operation["responses"]["422"].is_object(), "{method} {path}");
        }
    }
    assert!(lists >= 7, "only {lists} lists have a limit");
}

/// The operations whose bodies are verified raw must exist, or the refusals they are spared
/// would silently apply to nothing.
#[test]
fn raw_body_operations_exist() {
    let document = public_document();
    let ids: Vec<String> = operations(&document)
        .into_iter()
        .filter_map(|(_, _, operation)| operation["operationId"].as_str().map(str::to_owned))
        .collect();
    for id in postroute_http::openapi::RAW_BODIES {
        assert!(ids.iter().any(|known| known == id), "{id} is not an operation");
    }
}

#[db_test]
async fn the_served_document_is_the_generated_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let served = app.get("/v1/openapi.json", 200).await.json();
    let generated: serde_json::Value =
        serde_json::from_str(&postroute_http::openapi::document()).expect("JSON");
    assert_eq!(served, generated);
    assert!(served["paths"]["/readyz"]["get"].is_object());
    assert!(served["openapi"].as_str().is_some_and(|version| version.starts_with("3.")));
}

/// OpenAPI requires each operation's id to be unique: client generators name methods after them.
#[test]
fn every_operation_has_its_own_id() {
    let document: serde_json::Value =
        serde_json::from_str(&postroute_http::openapi::document()).expect("JSON");
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
