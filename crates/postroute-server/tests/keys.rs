//! Rotating the OAuth key: every channel token re-sealed under the new key, resumably, while the
//! old key still opens what it sealed until then.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use postroute_app::admin::keys::{RotationKeys, rotate};
use postroute_app::channels::TokenCipher;
use postroute_app::crypto::{Keyring, OpenError, derive_key};
use postroute_app::mail::OUTBOX_KEY_PURPOSE;
use postroute_domain::{ChannelId, WorkspaceId};
use postroute_test_support::{Backend, TestApp, db_test};
use secrecy::ExposeSecret;

fn key(encoded: &str) -> [u8; 32] {
    STANDARD.decode(encoded).unwrap().try_into().unwrap()
}

/// The keyrings of a deployment moving from `old` to `new`, as `postroute keys rotate` builds
/// them from configuration.
fn rotation_keys(new: &[u8; 32], old: &[u8; 32]) -> RotationKeys {
    RotationKeys {
        oauth: TokenCipher::new(Arc::new(Keyring::new(new, &[*old]))),
        outbox: Keyring::new(
            &derive_key(new, OUTBOX_KEY_PURPOSE),
            &[derive_key(old, OUTBOX_KEY_PURPOSE)],
        ),
    }
}

#[db_test]
// proves S-ENC-2
async fn rotation_reseals_every_token_under_the_new_key_and_can_resume(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("rotate@example.com").await;
    let workspace = app.workspace(&owner, "Keys").await;
    app.set_plan(&workspace, "studio").await;
    let mut channels = Vec::new();
    for (id, handle) in [("11", "first"), ("12", "second"), ("13", "third")] {
        app.fake_x().set_account(id, handle, handle);
        channels.push(app.connect_x(&owner, &workspace).await);
    }
    let old = key(app.config.encryption.oauth_key.as_ref().unwrap().expose_secret());
    let new = [42u8; 32];
    let rotated = TokenCipher::new(Arc::new(Keyring::new(&new, &[old])));
    let new_only = TokenCipher::new(Arc::new(Keyring::new(&new, &[])));
    let old_only = TokenCipher::new(Arc::new(Keyring::new(&old, &[])));
    let workspace_id: WorkspaceId = workspace.parse().unwrap();
    let store = app.store();
    let sealed = async |id: &str| {
        let id: ChannelId = id.parse().unwrap();
        store.tenant(workspace_id).channel_tokens(id).await.unwrap().unwrap()
    };
    let first = channels[0].parse::<ChannelId>().unwrap();
    assert!(
        new_only.open(workspace_id, first, &sealed(&channels[0]).await).is_err(),
        "not yet under the new key"
    );

    let keys = rotation_keys(&new, &old);
    let mut batches = 0;
    let report = rotate(app.store(), &keys, |_| batches += 1).await.unwrap();
    assert_eq!(report.channels.resealed, 3);
    assert!(batches >= 1);
    for channel in &channels {
        let id: ChannelId = channel.parse().unwrap();
        let tokens = sealed(channel).await;
        assert_eq!(tokens.key_id, rotated.current_key_id());
        let opened = new_only.open(workspace_id, id, &tokens).unwrap();
        assert!(
            app.fake_x().issued_tokens().contains(&opened.access_token.expose().to_owned()),
            "the same token, re-sealed"
        );
        assert!(matches!(old_only.open(workspace_id, id, &tokens), Err(OpenError::UnknownKey(_))));
    }
    // Nothing left: a second run (or a resumed one) does nothing.
    assert_eq!(rotate(app.store(), &keys, |_| {}).await.unwrap(), Default::default());
}

#[db_test]
// proves S-ENC-2: after a rotation, the old key can go without losing anything it sealed
async fn after_rotation_the_old_key_can_be_removed_and_nothing_is_lost(backend: Backend) {
    let mut app = TestApp::builder(backend.clone())
        .configure(|config| config.worker.token_check_interval_secs = 3600)
        .spawn()
        .await;
    let owner = app.signed_in_user("keeper@example.com").await;
    let workspace = app.workspace(&owner, "Keys").await;
    app.connect_x(&owner, &workspace).await;
    // An OAuth flow in progress, a Meta login awaiting a choice, and an email still queued.
    app.authorize_at_platform(&owner, &workspace, "x").await;
    app.fake_meta().set_pages(vec![
        postroute_fakes::FakePage::new("601", "A"),
        postroute_fakes::FakePage::new("602", "B"),
    ]);
    let query = app.authorize_at_platform(&owner, &workspace, "facebook").await;
    let pending = app.oauth_callback(&owner, "facebook", &query, 200).await["pending_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.resend().set_outage(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    app.post_json(
        "/v1/auth/password-reset/request",
        &serde_json::json!({"email": "keeper@example.com"}),
        202,
    )
    .await;
    // The deployment stops (its processes know only the old key), is rotated, and restarts
    // with the new key alone.
    app.shutdown().await;
    let old = key(app.config.encryption.oauth_key.as_ref().unwrap().expose_secret());
    let new = [7u8; 32];
    let report = rotate(app.store(), &rotation_keys(&new, &old), |_| {}).await.unwrap();
    assert_eq!(report.channels.resealed, 1);
    assert!(report.outbox.resealed >= 1, "{report:?}");
    assert!(report.oauth_states.resealed >= 1, "{report:?}");
    assert_eq!(report.pending_connections.resealed, 1, "{report:?}");
    let keys = rotation_keys(&new, &old);
    for kind in postroute_store::SealedKind::ALL {
        let current = match kind {
            postroute_store::SealedKind::OutboxBody => keys.outbox.current_key_id_bytes(),
            _ => keys.oauth.keyring().current_key_id_bytes(),
        };
        let left = app
            .store()
            .cross_tenant_unscoped()
            .sealed_with_other_keys(kind, &current, 10)
            .await
            .unwrap();
        assert!(left.is_empty(), "{} still under the old key: {left:?}", kind.label());
    }

    // The old key is gone: a deployment that knows only the new one. (The outage's backoff
    // is waived, so the queued email is due at once.)
    app.execute_sql("UPDATE email_outbox SET next_attempt_at = created_at WHERE sent_at IS NULL")
        .await;
    let after = TestApp::builder(backend).oauth_keys(&new, &[]).spawn_beside(&app).await;
    let reset = after.email_to("keeper@example.com", "Reset your PostRoute password").await;
    assert!(reset.text.contains("reset-password#token="), "{}", reset.text);
    // The Meta login's candidates still open: choosing one connects it.
    after
        .send_json_as(
            &owner.access_token,
            reqwest::Method::POST,
            &format!("/v1/workspaces/{workspace}/channels/pending/{pending}"),
            &serde_json::json!({"external_ids": ["602"]}),
            201,
        )
        .await;
}

#[db_test]
// proves S-ENC-2: a value that opens under no configured key does not stop the rest
async fn rotation_goes_on_past_a_value_it_cannot_open_and_counts_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("tampered@example.com").await;
    let workspace = app.workspace(&owner, "Keys").await;
    let mut channels = Vec::new();
    for (id, handle) in [("21", "kept"), ("22", "moved")] {
        app.fake_x().set_account(id, handle, handle);
        channels.push(app.connect_x(&owner, &workspace).await);
    }
    // One channel's tokens copied onto the other: bound to another row, they open nowhere.
    let moved = app
        .execute_sql(&format!(
            "UPDATE channels SET access_token = (SELECT access_token FROM channels WHERE id = {first}) \
             WHERE id = {second}",
            first = app.uuid_literal(&channels[0]),
            second = app.uuid_literal(&channels[1]),
        ))
        .await;
    assert_eq!(moved, 1);
    let old = key(app.config.encryption.oauth_key.as_ref().unwrap().expose_secret());
    let keys = rotation_keys(&[9u8; 32], &old);
    let report = rotate(app.store(), &keys, |_| {}).await.unwrap();
    assert_eq!((report.channels.resealed, report.channels.unopened), (1, 1), "{report:?}");
    assert_eq!(report.unopened(), 1);
    // Run again: nothing left to re-seal, and the one that does not open is counted again.
    let again = rotate(app.store(), &keys, |_| {}).await.unwrap();
    assert_eq!((again.channels.resealed, again.channels.unopened), (0, 1), "{again:?}");
}
