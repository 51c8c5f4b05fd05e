//! Registration, verification, login, profile, password change and reset, export and erasure.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_test_support::{Backend, PASSWORD, TestApp, db_test, token_in};
use reqwest::Method;
use serde_json::json;

const NEW_PASSWORD: &str = "an entirely new passphrase";

#[db_test]
async fn a_new_account_is_verified_by_email_then_signs_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app
        .post_json(
            "/v1/auth/register",
            &json!({"email": "Ada@Example.com", "password": PASSWORD, "name": " Ada "}),
            202,
        )
        .await;
    assert!(registered.json()["message"].is_string());

    // Correct password, unconfirmed address: 403 only now; a wrong password stays 401.
    let unverified = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
            403,
        )
        .await;
    assert_eq!(unverified.json()["code"], "email_not_verified");
    let wrong = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": "not the password!"}),
            401,
        )
        .await;
    assert_eq!(wrong.json()["code"], "invalid_credentials");

    let email = app.email_to("Ada@Example.com", "Confirm your email").await;
    assert!(email.text.contains("https://localhost:8443/verify-email#token="), "{}", email.text);
    let token = token_in(&email);
    app.post_json("/v1/auth/verify-email", &json!({"token": token}), 200).await;
    let reused = app.post_json("/v1/auth/verify-email", &json!({"token": token}), 400).await;
    assert_eq!(reused.json()["code"], "invalid_token");

    let tokens = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ADA@example.COM", "password": PASSWORD}),
            200,
        )
        .await;
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["refresh_expires_in"], 2_592_000);
    let access = tokens["access_token"].as_str().unwrap();

    let me = app.get_as(access, "/v1/me", 200).await.json();
    assert_eq!(me["email"], "Ada@Example.com");
    assert_eq!(me["name"], "Ada");
    assert_eq!(me["email_verified"], true);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));

    let renamed = app
        .send_json_as(access, Method::PATCH, "/v1/me", &json!({"name": "Ada Lovelace"}), 200)
        .await;
    assert_eq!(renamed.json()["name"], "Ada Lovelace");
}

#[db_test]
// proves S-AUTH-5
async fn verification_links_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post_json(
        "/v1/auth/register",
        &json!({"email": "late@example.com", "password": PASSWORD, "name": "Late"}),
        202,
    )
    .await;
    let token = token_in(&app.email_to("late@example.com", "Confirm your email").await);
    app.expire_email_tokens().await;
    let expired = app.post_json("/v1/auth/verify-email", &json!({"token": token}), 400).await;
    assert_eq!(expired.json()["code"], "invalid_token");
    app.post_json("/v1/auth/verify-email", &json!({"token": "made-up"}), 400).await;

    // A resend replaces the link; the new one works.
    app.post_json("/v1/auth/verify-email/resend", &json!({"email": "late@example.com"}), 202).await;
    let emails = app.emails_to("late@example.com", "Confirm your email", 2).await;
    app.post_json("/v1/auth/verify-email", &json!({"token": token_in(&emails[1])}), 200).await;
}

#[db_test]
// proves S-AUTH-6
async fn register_resend_and_reset_answer_alike_for_known_and_unknown_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_in_user("known@example.com").await;
    let cases = [
        (
            "/v1/auth/register",
            json!({"email": "known@example.com", "password": PASSWORD, "name": "X"}),
            json!({"email": "unknown@example.com", "password": PASSWORD, "name": "X"}),
        ),
        (
            "/v1/auth/verify-email/resend",
            json!({"email": "known@example.com"}),
            json!({"email": "nobody@example.com"}),
        ),
        (
            "/v1/auth/password-reset/request",
            json!({"email": "known@example.com"}),
            json!({"email": "nobody@example.com"}),
        ),
    ];
    for (path, known, unknown) in cases {
        let known = app.post_json(path, &known, 202).await;
        let unknown = app.post_json(path, &unknown, 202).await;
        assert_eq!(known.body, unknown.body, "{path}");
        assert_eq!(known.header("content-type"), unknown.header("content-type"));
    }
    // The owner of the existing account hears about the attempt instead.
    app.email_to("known@example.com", "Someone tried to sign up").await;

    let unknown = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "ghost@example.com", "password": PASSWORD}),
            401,
        )
        .await;
    let wrong = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "known@example.com", "password": "wrong password!!"}),
            401,
        )
        .await;
    assert_eq!(unknown.body, wrong.body);
}

#[db_test]
// proves S-AUTH-5
async fn a_password_reset_is_single_use_and_ends_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let laptop = app.signed_in_user("reset@example.com").await;
    let phone = app.login("reset@example.com", PASSWORD).await;

    app.post_json("/v1/auth/password-reset/request", &json!({"email": "reset@example.com"}), 202)
        .await;
    let email = app.email_to("reset@example.com", "Reset your PostRoute password").await;
    assert!(email.text.contains("/reset-password#token="));
    let token = token_in(&email);

    let weak = app
        .post_json(
            "/v1/auth/password-reset/confirm",
            &json!({"token": token, "new_password": "short"}),
            422,
        )
        .await;
    assert_eq!(weak.json()["errors"][0]["field"], "new_password");
    app.post_json(
        "/v1/auth/password-reset/confirm",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        204,
    )
    .await;
    app.post_json(
        "/v1/auth/password-reset/confirm",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        400,
    )
    .await;

    for device in [&laptop, &phone] {
        app.get_as(&device.access_token, "/v1/me", 401).await;
        app.post_json("/v1/auth/refresh", &json!({"refresh_token": device.refresh_token}), 401)
            .await;
    }
    app.post_json(
        "/v1/auth/login",
        &json!({"email": "reset@example.com", "password": PASSWORD}),
        401,
    )
    .await;
    app.login("reset@example.com", NEW_PASSWORD).await;
}

#[db_test]
async fn changing_the_password_keeps_this_session_and_ends_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let here = app.signed_in_user("change@example.com").await;
    let elsewhere = app.login("change@example.com", PASSWORD).await;

    let wrong = app
        .send_json_as(
            &here.access_token,
            Method::POST,
            "/v1/me/password",
            &json!({"current_password": "not my password", "new_password": NEW_PASSWORD}),
            403,
        )
        .await;
    assert_eq!(wrong.json()["code"], "invalid_credentials");
    app.send_json_as(
        &here.access_token,
        Method::POST,
        "/v1/me/password",
        &json!({"current_password": PASSWORD, "new_password": "password1234"}),
        422,
    )
    .await;
    app.send_json_as(
        &here.access_token,
        Method::POST,
        "/v1/me/password",
        &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        204,
    )
    .await;

    app.get_as(&here.access_token, "/v1/me", 200).await;
    app.get_as(&elsewhere.access_token, "/v1/me", 401).await;
    app.login("change@example.com", NEW_PASSWORD).await;
}

#[db_test]
async fn sessions_can_be_listed_and_ended_one_by_one_or_all_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let laptop = app.signed_in_user("sessions@example.com").await;
    let phone = app.login("sessions@example.com", PASSWORD).await;

    let list = app.get_as(&laptop.access_token, "/v1/auth/sessions", 200).await.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|session| session["current"] == true).count(), 1);
    assert_eq!(items[0]["ip"], "127.0.0.1");
    let phone_session = items.iter().find(|session| session["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.send(
        app.request(Method::DELETE, &format!("/v1/auth/sessions/{phone_session}"))
            .bearer_auth(&laptop.access_token),
        204,
    )
    .await;
    app.get_as(&phone.access_token, "/v1/me", 401).await;
    app.send(
        app.request(Method::DELETE, &format!("/v1/auth/sessions/{phone_session}"))
            .bearer_auth(&laptop.access_token),
        404,
    )
    .await;
    app.send(
        app.request(Method::DELETE, "/v1/auth/sessions/not-a-uuid")
            .bearer_auth(&laptop.access_token),
        404,
    )
    .await;

    // Another user's session is not ours to end.
    let other = app.signed_in_user("other@example.com").await;
    let theirs = app.get_as(&other.access_token, "/v1/auth/sessions", 200).await.json()["items"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(
        app.request(Method::DELETE, &format!("/v1/auth/sessions/{theirs}"))
            .bearer_auth(&laptop.access_token),
        404,
    )
    .await;
    app.get_as(&other.access_token, "/v1/me", 200).await;

    let tablet = app.login("sessions@example.com", PASSWORD).await;
    app.send(
        app.request(Method::POST, "/v1/auth/logout-all").bearer_auth(&tablet.access_token),
        204,
    )
    .await;
    app.get_as(&tablet.access_token, "/v1/me", 401).await;
    app.get_as(&laptop.access_token, "/v1/me", 401).await;
}

#[db_test]
// proves S-AUTH-4
async fn logout_ends_the_session_on_the_very_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in_user("logout@example.com").await;
    app.get_as(&user.access_token, "/v1/me", 200).await;
    app.post_json("/v1/auth/logout", &json!({"refresh_token": user.refresh_token}), 204).await;
    let refused = app.get_as(&user.access_token, "/v1/me", 401).await;
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert_eq!(refused.json()["code"], "unauthorized");
    app.post_json("/v1/auth/refresh", &json!({"refresh_token": user.refresh_token}), 401).await;
    // Logging out twice, or with a token we never issued, is not an error.
    app.post_json("/v1/auth/logout", &json!({"refresh_token": user.refresh_token}), 204).await;
    app.post_json("/v1/auth/logout", &json!({"refresh_token": "never-issued"}), 204).await;
}

#[db_test]
// proves S-DATA-3
async fn a_user_can_export_and_erase_their_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in_user("gdpr@example.com").await;
    app.post_json(
        "/v1/auth/login",
        &json!({"email": "gdpr@example.com", "password": "a wrong password"}),
        401,
    )
    .await;

    let export = app.get_as(&user.access_token, "/v1/me/export", 200).await;
    assert_eq!(export.header("cache-control"), Some("no-store"));
    let export = export.json();
    assert_eq!(export["account"]["email"], "gdpr@example.com");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert!(
        export["emails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|email| email["template"] == "verify_email")
    );
    assert!(
        export["security_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["type"] == "login_failed")
    );
    assert!(!export.to_string().contains("$argon2id"), "the hash is not exported");

    let wrong = app
        .send_json_as(
            &user.access_token,
            Method::DELETE,
            "/v1/me",
            &json!({"password": "wrong password!"}),
            403,
        )
        .await;
    assert_eq!(wrong.json()["code"], "invalid_credentials");
    app.send_json_as(
        &user.access_token,
        Method::DELETE,
        "/v1/me",
        &json!({"password": PASSWORD}),
        204,
    )
    .await;

    app.get_as(&user.access_token, "/v1/me", 401).await;
    app.post_json(
        "/v1/auth/login",
        &json!({"email": "gdpr@example.com", "password": PASSWORD}),
        401,
    )
    .await;
    assert!(app.store().accounts().find_by_email("gdpr@example.com").await.unwrap().is_none());
    assert!(app.store().outbox().to_address("gdpr@example.com").await.unwrap().is_empty());
    // The security events stay, detached from the person.
    let events = app.store().system_events().recent(50).await.unwrap();
    assert!(events.iter().any(|event| event.event_type == "login_failed" && event.actor.is_none()));
}

#[db_test]
async fn bad_input_is_a_precise_4xx_and_creates_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (json!({"email": "ad\u{0430}@example.com", "password": PASSWORD, "name": "X"}), "email"),
        (json!({"email": "ada\u{200b}@example.com", "password": PASSWORD, "name": "X"}), "email"),
        (json!({"email": "not-an-email", "password": PASSWORD, "name": "X"}), "email"),
        (json!({"email": "ok@example.com", "password": "x".repeat(129), "name": "X"}), "password"),
        (json!({"email": "ok@example.com", "password": "password1234", "name": "X"}), "password"),
        (json!({"email": "ok@example.com", "password": PASSWORD, "name": ""}), "name"),
        (json!({"email": "ok@example.com", "password": PASSWORD, "name": "a\u{202e}b"}), "name"),
        (json!({"email": "ok@example.com", "password": PASSWORD}), "body"),
        (json!({"email": 42, "password": PASSWORD, "name": "X"}), "email"),
        (
            json!({"email": "ok@example.com", "password": PASSWORD, "name": "X", "is_staff": true}),
            "is_staff",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json("/v1/auth/register", &body, 422).await.json();
        assert_eq!(response["code"], "validation_failed", "{body}");
        assert_eq!(response["errors"][0]["field"], field, "{body}");
    }
    let huge =
        json!({"email": "ok@example.com", "password": PASSWORD, "name": "x".repeat(100_000)});
    assert_eq!(
        app.post_json("/v1/auth/register", &huge, 413).await.json()["code"],
        "payload_too_large"
    );
    let malformed = app
        .send(
            app.request(Method::POST, "/v1/auth/login")
                .header("content-type", "application/json")
                .body("{\"email\":"),
            400,
        )
        .await;
    assert_eq!(malformed.json()["code"], "malformed_request");
    app.send(app.request(Method::POST, "/v1/auth/login").body("email=a&password=b"), 415).await;

    assert!(app.store().accounts().find_by_email("ok@example.com").await.unwrap().is_none());
    assert!(app.store().outbox().to_address("ok@example.com").await.unwrap().is_empty());
}

#[db_test]
// Account pre-hijacking: whoever registered an address first, without ever proving it,
// keeps no password, name or session once its owner registers and confirms it.
async fn registering_an_unconfirmed_address_again_replaces_the_first_registrants_credentials(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let squatter_password = "the squatter's own passphrase";
    app.post_json(
        "/v1/auth/register",
        &json!({"email": "owner@example.com", "password": squatter_password, "name": "Squatter"}),
        202,
    )
    .await;
    let squatter =
        app.store().accounts().find_by_email("owner@example.com").await.unwrap().unwrap();
    // A session the unconfirmed account might hold, however it came by one.
    let now = chrono::Utc::now();
    app.store()
        .sessions()
        .start(&postroute_store::NewSession {
            id: postroute_domain::SessionId::new(),
            user_id: squatter.id,
            user_agent: None,
            ip: None,
            created_at: now,
            expires_at: now + chrono::Duration::days(1),
            refresh_token_hash: &[7; 32],
        })
        .await
        .unwrap();

    let again = app
        .post_json(
            "/v1/auth/register",
            &json!({"email": "owner@example.com", "password": PASSWORD, "name": "Owner"}),
            202,
        )
        .await;
    assert!(again.json()["message"].is_string(), "the same answer as a first registration");
    assert!(
        app.store().sessions().list_live(squatter.id, chrono::Utc::now()).await.unwrap().is_empty()
    );

    let links = app.emails_to("owner@example.com", "Confirm your email", 2).await;
    let link = links.last().unwrap();
    assert!(link.text.contains("Owner"), "{}", link.text);
    app.post_json("/v1/auth/verify-email", &json!({"token": token_in(link)}), 200).await;
    let refused = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "owner@example.com", "password": squatter_password}),
            401,
        )
        .await;
    assert_eq!(refused.json()["code"], "invalid_credentials");
    let owner = app.login("owner@example.com", PASSWORD).await;
    let me = app.get_as(&owner.access_token, "/v1/me", 200).await.json();
    assert_eq!(me["name"], "Owner");
    assert_eq!(me["id"], squatter.id.to_string(), "the same account, now the owner's");
}
