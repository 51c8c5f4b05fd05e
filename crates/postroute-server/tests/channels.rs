//! Channels: OAuth connection of X, Facebook Pages and Instagram accounts against the fake
//! platforms, tokens sealed at rest, the token job, disconnection and key rotation.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use postroute_fakes::FakePage;
use postroute_test_support::{Backend, TestApp, TestUser, db_test};
use reqwest::Method;
use serde_json::{Value, json};

async fn owner_and_workspace(app: &TestApp) -> (TestUser, String) {
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Brand").await;
    (owner, workspace)
}

async fn channels(app: &TestApp, user: &TestUser, workspace: &str) -> Vec<Value> {
    app.get_as(&user.access_token, &format!("/v1/workspaces/{workspace}/channels"), 200)
        .await
        .json()["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_until(mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met in time");
}

/// Every byte the database holds for the channels table, as text (lossy), for plaintext scans.
async fn channel_bytes(app: &TestApp) -> String {
    let mut text = String::new();
    for column in ["access_token", "refresh_token"] {
        let sql = match app.backend {
            Backend::Sqlite => format!("SELECT count(*) FROM channels WHERE {column} IS NOT NULL"),
            Backend::Postgres { .. } => {
                format!("SELECT count(*) FROM channels WHERE {column} IS NOT NULL")
            }
        };
        text.push_str(&format!("{column}:{};", app.count(&sql).await));
    }
    if app.backend == Backend::Sqlite {
        for file in ["postroute.db", "postroute.db-wal"] {
            if let Ok(bytes) = std::fs::read(app.config.data_dir.join(file)) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    text
}

#[db_test]
// proves S-ENC-1
async fn an_x_account_connects_with_pkce_and_its_tokens_are_stored_sealed(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let started = app
        .send_json_as(
            &owner.access_token,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/channels/connect"),
            &json!({"provider": "x"}),
            200,
        )
        .await
        .json();
    let authorize = url::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    let params: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["redirect_uri"], "https://localhost:8443/v1/oauth/x/callback");
    assert!(params["scope"].contains("offline.access"));
    let query = app.authorize_at_platform(&owner, &workspace, "x").await;
    let completed = app.oauth_callback(&owner, "x", &query, 200).await;
    let channel = completed["channel_ids"][0].as_str().unwrap().to_owned();
    // The verifier X checked came from the server, and no answer ever carried it.
    let verifiers = app.fake_x().verifiers_seen();
    assert_eq!(verifiers.len(), 1);
    for shown in [started.to_string(), query.clone(), completed.to_string()] {
        assert!(!shown.contains(&verifiers[0]), "the PKCE verifier never leaves the server");
    }
    assert!(
        app.count("SELECT count(*) FROM oauth_states WHERE pkce_verifier IS NOT NULL").await >= 1
    );
    let listed = channels(&app, &owner, &workspace).await;
    assert_eq!(listed.len(), 1);
    let x = &listed[0];
    assert_eq!(x["id"], channel.as_str());
    assert_eq!(x["provider"], "x");
    assert_eq!(x["external_id"], "1001");
    assert_eq!(x["display_name"], "@postroute_fan");
    assert_eq!(x["status"], "active");
    assert!(x["token_expires_at"].is_string());
    let text = Value::Array(listed.clone()).to_string();
    for token in app.fake_x().issued_tokens() {
        assert!(!text.contains(&token), "no token material in the API");
    }
    // The database holds ciphertexts only.
    let stored = channel_bytes(&app).await;
    assert!(
        stored.contains("access_token:1;refresh_token:1;"),
        "{}",
        &stored[..40.min(stored.len())]
    );
    for token in app.fake_x().issued_tokens() {
        assert!(!stored.contains(&token), "a token in the clear in the database");
        if let Backend::Postgres { .. } = app.backend {
            let found = app
                .count(&format!(
                    "SELECT count(*) FROM channels WHERE position(convert_to('{token}', 'UTF8') in access_token) > 0 \
                     OR position(convert_to('{token}', 'UTF8') in refresh_token) > 0"
                ))
                .await;
            assert_eq!(found, 0, "a token in the clear in PostgreSQL");
        }
    }
    let (ciphertext_len,): (i64,) = (app
        .count(&format!(
            "SELECT count(*) FROM channels WHERE id = {} AND token_key_id IS NOT NULL",
            app.uuid_literal(&channel)
        ))
        .await,);
    assert_eq!(ciphertext_len, 1, "the key id is stored with the ciphertext");

    app.set_plan(&workspace, "studio").await;
    let log = app
        .get_as(
            &owner.access_token,
            &format!("/v1/workspaces/{workspace}/audit-log?action=channel.connected"),
            200,
        )
        .await
        .json();
    assert_eq!(log["items"][0]["target"]["id"], channel.as_str());
    assert_eq!(log["items"][0]["details"]["reconnected"], false);
}

#[db_test]
async fn a_bad_callback_fails_clearly_and_creates_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let query = app.authorize_at_platform(&owner, &workspace, "x").await;
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let state = params["state"].clone();
    let code = params["code"].clone();

    assert_eq!(
        app.oauth_callback(&owner, "x", &format!("code={code}"), 400).await["code"],
        "invalid_state"
    );
    let tampered =
        format!("{}.{}", uuid::Uuid::now_v7().simple(), state.split_once('.').unwrap().1);
    let refused =
        app.oauth_callback(&owner, "x", &format!("code={code}&state={tampered}"), 400).await;
    assert_eq!(refused["code"], "invalid_state");
    let refused =
        app.oauth_callback(&owner, "facebook", &format!("code={code}&state={state}"), 400).await;
    assert_eq!(refused["code"], "invalid_state", "a state for another provider");
    // That attempt used the state up: it works once.
    assert_eq!(
        app.oauth_callback(&owner, "x", &format!("code={code}&state={state}"), 400).await["code"],
        "invalid_state"
    );

    let query = app.authorize_at_platform(&owner, &workspace, "x").await;
    let state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        app.oauth_callback(&owner, "x", &format!("state={state}"), 400).await["code"],
        "missing_code"
    );

    app.fake_x().deny_next_authorization();
    let denied = app.authorize_at_platform(&owner, &workspace, "x").await;
    assert!(denied.contains("error=access_denied"));
    assert_eq!(app.oauth_callback(&owner, "x", &denied, 400).await["code"], "access_denied");

    let query = app.authorize_at_platform(&owner, &workspace, "x").await;
    app.execute_sql("UPDATE oauth_states SET expires_at = created_at").await;
    assert_eq!(
        app.oauth_callback(&owner, "x", &query, 400).await["code"],
        "invalid_state",
        "expired"
    );

    // The browser, which carries no credentials, is only handed on to the web UI, with what
    // the platform sent in the URL fragment; nothing is completed on its say-so.
    let query = app.authorize_at_platform(&owner, &workspace, "x").await;
    let response =
        app.send(app.request(Method::GET, &format!("/v1/oauth/x/callback?{query}")), 302).await;
    let location = url::Url::parse(response.header("location").unwrap()).unwrap();
    assert_eq!(location.path(), "/oauth/x/complete");
    assert_eq!(location.query(), None, "nothing in the query string, which servers log");
    let handed_on: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(location.fragment().unwrap().as_bytes()).into_owned().collect();
    assert!(handed_on.contains_key("code") && handed_on.contains_key("state"));
    assert!(channels(&app, &owner, &workspace).await.is_empty());
    // The signed-in UI completes it.
    let completed = app.oauth_callback(&owner, "x", location.fragment().unwrap(), 200).await;
    assert_eq!(completed["status"], "connected");
    app.send(
        app.request(
            Method::DELETE,
            &format!(
                "/v1/workspaces/{workspace}/channels/{}",
                completed["channel_ids"][0].as_str().unwrap()
            ),
        )
        .bearer_auth(&owner.access_token),
        204,
    )
    .await;

    assert!(
        channels(&app, &owner, &workspace)
            .await
            .iter()
            .all(|channel| channel["status"] == "disconnected")
    );
    let bad = app
        .send_json_as(
            &owner.access_token,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/channels/connect"),
            &json!({"provider": "myspace"}),
            422,
        )
        .await;
    assert_eq!(bad.json()["errors"][0]["field"], "provider");
}

#[db_test]
async fn a_meta_login_with_several_pages_lets_the_user_pick(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    app.fake_meta().set_pages(vec![
        FakePage::new("501", "Corner Bakery").with_instagram("1784501", "cornerbakery"),
        FakePage::new("502", "Harbour Cafe"),
        FakePage::new("503", "Night Market").with_instagram("1784503", "nightmarket"),
    ]);
    let query = app.authorize_at_platform(&owner, &workspace, "facebook").await;
    let choice = app.oauth_callback(&owner, "facebook", &query, 200).await;
    assert_eq!(choice["status"], "choose");
    assert!(!choice.to_string().contains("EAAPAGE"), "Page tokens never reach the client");
    let pending = choice["pending_id"].as_str().unwrap();
    let path = format!("/v1/workspaces/{workspace}/channels/pending/{pending}");
    let listed = app.get_as(&owner.access_token, &path, 200).await.json();
    let names: Vec<&str> = listed["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Corner Bakery", "Harbour Cafe", "Night Market"]);
    assert!(!listed.to_string().contains("EAAPAGE"));

    app.send_json_as(
        &owner.access_token,
        Method::POST,
        &path,
        &json!({"external_ids": ["999"]}),
        422,
    )
    .await;
    let created = app
        .send_json_as(
            &owner.access_token,
            Method::POST,
            &path,
            &json!({"external_ids": ["501", "503"]}),
            201,
        )
        .await
        .json();
    assert_eq!(created["items"].as_array().unwrap().len(), 2);
    app.send_json_as(
        &owner.access_token,
        Method::POST,
        &path,
        &json!({"external_ids": ["502"]}),
        404,
    )
    .await;

    // Instagram: the accounts linked to those Pages.
    let query = app.authorize_at_platform(&owner, &workspace, "instagram").await;
    let choice = app.oauth_callback(&owner, "instagram", &query, 200).await;
    let handles: Vec<&str> = choice["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["@cornerbakery", "@nightmarket"]);

    let listed = channels(&app, &owner, &workspace).await;
    let providers: Vec<(&str, &str)> = listed
        .iter()
        .map(|c| (c["provider"].as_str().unwrap(), c["external_id"].as_str().unwrap()))
        .collect();
    assert_eq!(providers, [("facebook", "501"), ("facebook", "503")]);
}

#[db_test]
async fn a_meta_login_without_usable_accounts_or_refused_connects_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    app.fake_meta().set_pages(vec![FakePage::new("502", "Harbour Cafe")]);
    let query = app.authorize_at_platform(&owner, &workspace, "instagram").await;
    assert_eq!(app.oauth_callback(&owner, "instagram", &query, 400).await["code"], "no_accounts");
    app.fake_meta().set_pages(Vec::new());
    let query = app.authorize_at_platform(&owner, &workspace, "facebook").await;
    assert_eq!(app.oauth_callback(&owner, "facebook", &query, 400).await["code"], "no_accounts");
    app.fake_meta().deny_next_login();
    let query = app.authorize_at_platform(&owner, &workspace, "facebook").await;
    assert_eq!(app.oauth_callback(&owner, "facebook", &query, 400).await["code"], "access_denied");
    assert!(channels(&app, &owner, &workspace).await.is_empty());

    // One Page: connected straight away.
    app.fake_meta().set_pages(vec![FakePage::new("502", "Harbour Cafe")]);
    let query = app.authorize_at_platform(&owner, &workspace, "facebook").await;
    let connected = app.oauth_callback(&owner, "facebook", &query, 200).await;
    assert_eq!(connected["status"], "connected");
    assert_eq!(channels(&app, &owner, &workspace).await[0]["display_name"], "Harbour Cafe");
}

#[db_test]
async fn the_plan_caps_channels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    for (id, handle) in [("1", "one"), ("2", "two"), ("3", "three")] {
        app.fake_x().set_account(id, handle, handle);
        app.connect_x(&owner, &workspace).await;
    }
    let capped = app
        .send_json_as(
            &owner.access_token,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/channels/connect"),
            &json!({"provider": "x"}),
            402,
        )
        .await;
    assert_eq!(capped.json()["code"], "plan_required");
    // Reconnecting an account already counted is not a new channel.
    app.set_plan(&workspace, "studio").await;
    app.fake_x().set_account("1", "one", "one");
    app.connect_x(&owner, &workspace).await;
    assert_eq!(channels(&app, &owner, &workspace).await.len(), 3);
}

async fn make_due(app: &TestApp, channel: &str) {
    app.execute_sql(&format!(
        "UPDATE channels SET next_check_at = connected_at WHERE id = {}",
        app.uuid_literal(channel)
    ))
    .await;
}

async fn channel_status(app: &TestApp, user: &TestUser, workspace: &str, channel: &str) -> Value {
    channels(app, user, workspace).await.into_iter().find(|c| c["id"] == channel).unwrap()
}

#[db_test]
async fn x_tokens_are_refreshed_before_they_expire_and_the_rotated_refresh_token_is_kept(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let channel = app.connect_x(&owner, &workspace).await;
    let before =
        channel_status(&app, &owner, &workspace, &channel).await["token_expires_at"].clone();
    make_due(&app, &channel).await;
    wait_until(async || app.fake_x().refresh_count() >= 1).await;
    wait_until(async || {
        channel_status(&app, &owner, &workspace, &channel).await["token_expires_at"] != before
    })
    .await;
    // Refresh again: only works if the rotated refresh token was stored.
    make_due(&app, &channel).await;
    wait_until(async || app.fake_x().refresh_count() >= 2).await;
    let after = channel_status(&app, &owner, &workspace, &channel).await;
    assert_eq!(after["status"], "active");
}

#[db_test]
async fn a_dead_grant_needs_reconnecting_is_audited_and_mailed_once_and_reconnecting_restores_the_channel(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let admin = app.signed_in_user("admin@example.com").await;
    let member = app.signed_in_user("member@example.com").await;
    app.add_member(&workspace, &admin.id, "admin").await;
    app.add_member(&workspace, &member.id, "member").await;
    let channel = app.connect_x(&owner, &workspace).await;

    app.fake_x().revoke_account("1001");
    make_due(&app, &channel).await;
    wait_until(async || {
        channel_status(&app, &owner, &workspace, &channel).await["status"] == "needs_reconnect"
    })
    .await;
    app.email_to("owner@example.com", "Reconnect @postroute_fan").await;
    app.email_to("admin@example.com", "Reconnect @postroute_fan").await;
    // Another pass finds nothing new to say.
    make_due(&app, &channel).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let notices = app
        .resend()
        .accepted()
        .into_iter()
        .filter(|email| email.subject.starts_with("Reconnect"))
        .count();
    assert_eq!(notices, 2, "one notice per owner or admin, once per incident");
    assert!(
        !app.resend()
            .accepted()
            .iter()
            .any(|email| email.to.contains(&"member@example.com".to_owned())
                && email.subject.starts_with("Reconnect"))
    );

    app.set_plan(&workspace, "studio").await;
    let log = app
        .get_as(
            &owner.access_token,
            &format!("/v1/workspaces/{workspace}/audit-log?action=channel.needs_reconnect"),
            200,
        )
        .await
        .json();
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    assert_eq!(log["items"][0]["actor_id"], Value::Null);

    // Reconnecting the same account updates the channel instead of adding one.
    app.fake_x().set_account("1001", "postroute_fan", "PostRoute Fan");
    let again = app.connect_x(&owner, &workspace).await;
    assert_eq!(again, channel);
    assert_eq!(channel_status(&app, &owner, &workspace, &channel).await["status"], "active");
    assert_eq!(channels(&app, &owner, &workspace).await.len(), 1);
}

#[db_test]
async fn a_transient_failure_is_retried_and_never_disconnects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let channel = app.connect_x(&owner, &workspace).await;
    app.fake_x().set_token_outage(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    make_due(&app, &channel).await;
    wait_until(async || {
        app.count(&format!(
            "SELECT count(*) FROM channels WHERE check_failures > 0 AND id = {}",
            app.uuid_literal(&channel)
        ))
        .await
            == 1
    })
    .await;
    assert_eq!(channel_status(&app, &owner, &workspace, &channel).await["status"], "active");
    app.fake_x().set_token_outage(None);
    make_due(&app, &channel).await;
    wait_until(async || app.fake_x().refresh_count() >= 1).await;
    let healthy = format!(
        "SELECT count(*) FROM channels WHERE check_failures = 0 AND last_error IS NULL AND id = {}",
        app.uuid_literal(&channel)
    );
    wait_until(async || app.count(&healthy).await == 1).await;
}

#[db_test]
async fn a_meta_page_whose_token_dies_needs_reconnecting(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    app.fake_meta().set_pages(vec![FakePage::new("502", "Harbour Cafe")]);
    let query = app.authorize_at_platform(&owner, &workspace, "facebook").await;
    let channel = app.oauth_callback(&owner, "facebook", &query, 200).await["channel_ids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    app.fake_meta().kill_tokens();
    make_due(&app, &channel).await;
    wait_until(async || {
        channel_status(&app, &owner, &workspace, &channel).await["status"] == "needs_reconnect"
    })
    .await;
}

#[db_test]
async fn disconnecting_deletes_the_tokens_and_revokes_them_at_x(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let member = app.signed_in_user("member@example.com").await;
    app.add_member(&workspace, &member.id, "member").await;
    let channel = app.connect_x(&owner, &workspace).await;
    let path = format!("/v1/workspaces/{workspace}/channels/{channel}");
    app.send(app.request(Method::DELETE, &path).bearer_auth(&member.access_token), 403).await;
    app.send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 204).await;
    assert_eq!(channel_status(&app, &owner, &workspace, &channel).await["status"], "disconnected");
    let tokens_gone = format!(
        "SELECT count(*) FROM channels \
         WHERE access_token IS NULL AND refresh_token IS NULL AND id = {}",
        app.uuid_literal(&channel)
    );
    assert_eq!(app.count(&tokens_gone).await, 1);
    assert_eq!(app.fake_x().revoked_tokens().len(), 2, "access and refresh token revoked");
    app.send(
        app.request(
            Method::DELETE,
            &format!("/v1/workspaces/{workspace}/channels/{}", uuid::Uuid::now_v7()),
        )
        .bearer_auth(&owner.access_token),
        404,
    )
    .await;
    app.set_plan(&workspace, "studio").await;
    let log = app
        .get_as(
            &owner.access_token,
            &format!("/v1/workspaces/{workspace}/audit-log?action=channel.disconnected"),
            200,
        )
        .await
        .json();
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
}

#[db_test]
async fn a_connection_completes_only_for_the_member_who_started_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    // Someone with their own workspace starts a connection and sends the link to the owner,
    // hoping the owner's account ends up in their workspace.
    let attacker = app.signed_in_user("attacker@example.com").await;
    let trap = app.workspace(&attacker, "Trap").await;
    let query = app.authorize_at_platform(&attacker, &trap, "x").await;
    let refused = app.oauth_callback(&owner, "x", &query, 400).await;
    assert_eq!(refused["code"], "invalid_state");
    assert!(channels(&app, &attacker, &trap).await.is_empty());
    // A fellow admin of the same workspace cannot finish another's connection either.
    let admin = app.signed_in_user("admin@example.com").await;
    app.add_member(&workspace, &admin.id, "admin").await;
    let query = app.authorize_at_platform(&owner, &workspace, "x").await;
    assert_eq!(app.oauth_callback(&admin, "x", &query, 400).await["code"], "invalid_state");
    assert!(channels(&app, &owner, &workspace).await.is_empty());
}
