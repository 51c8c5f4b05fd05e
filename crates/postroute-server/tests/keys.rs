//! Rotating the OAuth key: every channel token re-sealed under the new key, resumably, while the
//! old key still opens what it sealed until then.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use postroute_domain::{ChannelId, WorkspaceId};
use postroute_server::admin::keys::rotate;
use postroute_server::channels::TokenCipher;
use postroute_server::crypto::{Keyring, OpenError};
use postroute_test_support::{TestApp, db_test};
use secrecy::ExposeSecret;

fn key(encoded: &str) -> [u8; 32] {
    STANDARD.decode(encoded).unwrap().try_into().unwrap()
}

db_test!(
    // proves S-ENC-2
    async fn rotation_reseals_every_token_under_the_new_key_and_can_resume(backend) {
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
        assert!(new_only.open(workspace_id, first, &sealed(&channels[0]).await).is_err(), "not yet under the new key");

        let mut batches = 0;
        let report = rotate(app.store(), &rotated, |_| batches += 1).await.unwrap();
        assert_eq!(report.resealed, 3);
        assert!(batches >= 1);
        for channel in &channels {
            let id: ChannelId = channel.parse().unwrap();
            let tokens = sealed(channel).await;
            assert_eq!(tokens.key_id, rotated.current_key_id());
            let opened = new_only.open(workspace_id, id, &tokens).unwrap();
            assert!(app.fake_x().issued_tokens().contains(&opened.access_token.expose().to_owned()), "the same token, re-sealed");
            assert!(matches!(old_only.open(workspace_id, id, &tokens), Err(OpenError::UnknownKey(_))));
        }
        // Nothing left: a second run (or a resumed one) does nothing.
        assert_eq!(rotate(app.store(), &rotated, |_| {}).await.unwrap().resealed, 0);
    }
);
