//! The Meta client against the fake Meta, and the fake against Graph's documented shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_fakes::{FakeMeta, FakePage};
use postroute_platforms::PlatformError;
use postroute_platforms::meta::{FACEBOOK_SCOPES, INSTAGRAM_SCOPES, MetaClient, MetaEndpoints};

const REDIRECT: &str = "https://postroute.example/v1/oauth/facebook/callback";

fn client(fake: &FakeMeta) -> MetaClient {
    MetaClient::new(
        MetaEndpoints { graph_base: fake.graph_url(), dialog_base: fake.dialog_url() },
        "app-1",
        "app-secret",
    )
    .unwrap()
}

async fn login(client: &MetaClient) -> std::collections::HashMap<String, String> {
    let url = client.dialog_url(REDIRECT, "state-9", FACEBOOK_SCOPES).unwrap();
    assert!(url.query_pairs().any(|(key, value)| key == "scope"
        && value == "pages_show_list,pages_manage_posts,pages_read_engagement"));
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = browser.get(url).send().await.unwrap();
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    location.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn login_long_lived_token_pages_and_instagram_accounts() {
    let fake = FakeMeta::start("app-1", "app-secret").await.unwrap();
    let mut pages: Vec<FakePage> =
        (0..130).map(|n| FakePage::new(&format!("{}", 600 + n), &format!("Page {n}"))).collect();
    pages[0] = pages[0].clone().with_instagram("1784", "first_page_ig");
    fake.set_pages(pages);
    let client = client(&fake);
    let callback = login(&client).await;
    assert_eq!(callback["state"], "state-9");
    let short = client.exchange_code(&callback["code"], REDIRECT).await.unwrap();
    assert!(
        matches!(
            client.exchange_code(&callback["code"], REDIRECT).await,
            Err(PlatformError::Permanent(_))
        ),
        "a code works once"
    );
    let long = client.long_lived(&short.access_token).await.unwrap();
    assert_eq!(long.expires_in, Some(5_183_944));

    let found = client.pages(&long.access_token).await.unwrap();
    assert_eq!(found.len(), 130, "paging.next was followed");
    assert_eq!(found[0].instagram.as_ref().unwrap().username.as_deref(), Some("first_page_ig"));
    assert!(found[1].instagram.is_none());
    client.check_token(&found[0].id, &found[0].access_token).await.unwrap();
    client.check_token("1784", &found[0].access_token).await.unwrap();

    fake.kill_tokens();
    assert!(matches!(
        client.check_token(&found[0].id, &found[0].access_token).await,
        Err(PlatformError::AuthDead(_))
    ));
}

#[tokio::test]
async fn a_refused_login_comes_back_with_meta_error_fields() {
    let fake = FakeMeta::start("app-1", "app-secret").await.unwrap();
    fake.deny_next_login();
    let callback = login(&client(&fake)).await;
    assert_eq!(callback["error"], "access_denied");
    assert_eq!(callback["error_reason"], "user_denied");
    assert!(!callback.contains_key("code"));
}

/// Recorded shapes from platforms.md 2.1 and 2.4.
#[tokio::test]
async fn the_fake_speaks_graphs_documented_shapes() {
    let fake = FakeMeta::start("app-1", "app-secret").await.unwrap();
    let http = reqwest::Client::new();
    let error = http
        .get(fake.graph_url().join("me/accounts").unwrap())
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(error.status(), 400);
    let error: serde_json::Value = error.json().await.unwrap();
    let inner = &error["error"];
    assert_eq!(inner["type"], "OAuthException");
    assert_eq!(inner["code"], 190);
    assert!(inner["message"].is_string() && inner["fbtrace_id"].is_string());

    let client = client(&fake);
    let callback = login(&client).await;
    let token = client.exchange_code(&callback["code"], REDIRECT).await.unwrap();
    // Unversioned paths work like versioned ones.
    let base = fake.graph_url().join("/").unwrap();
    let get = async |path: &str| -> serde_json::Value {
        http.get(base.join(path).unwrap())
            .bearer_auth(&token.access_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    // Without `fields` the edge sends its default fields; with `fields`, those and the id only.
    let accounts = get("me/accounts").await;
    let page = &accounts["data"][0];
    for field in ["id", "name", "access_token", "category", "tasks"] {
        assert!(page.get(field).is_some(), "{field} in {page}");
    }
    let picked = get("me/accounts?fields=name,access_token").await;
    let keys: Vec<&String> = picked["data"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "id", "name"], "{picked}");
    assert!(accounts["paging"]["cursors"]["before"].is_string());
    let exchange = format!(
        "oauth/access_token?grant_type=fb_exchange_token&client_id=app-1\
         &client_secret=app-secret&fb_exchange_token={}",
        token.access_token
    );
    let exchanged: serde_json::Value = http
        .get(fake.graph_url().join(&exchange).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exchanged["token_type"], "bearer");
    assert!(exchanged["expires_in"].is_u64() && exchanged["access_token"].is_string());

    // 2.4: usage as a JSON string header; an unknown object is Graph's 100/33.
    let read = http
        .get(fake.graph_url().join("999999?fields=id").unwrap())
        .bearer_auth(&token.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 400);
    let usage: serde_json::Value =
        serde_json::from_str(read.headers()["x-app-usage"].to_str().unwrap()).unwrap();
    for field in ["call_count", "total_time", "total_cputime"] {
        assert!(usage[field].is_u64(), "{field} in {usage}");
    }
    let error = &read.json::<serde_json::Value>().await.unwrap()["error"];
    assert_eq!(
        (&error["type"], &error["code"], &error["error_subcode"]),
        (
            &serde_json::json!("GraphMethodException"),
            &serde_json::json!(100),
            &serde_json::json!(33)
        )
    );
}

/// The scenarios of the referee suite (referee/meta_checks.py), met by our client.
#[tokio::test]
async fn our_client_meets_the_referee_scenarios() {
    let fake = FakeMeta::start("app-1", "app-secret").await.unwrap();
    fake.set_pages(vec![
        FakePage::new("501", "Corner Bakery").with_instagram("1784501", "cornerbakery"),
        FakePage::new("502", "Harbour Cafe"),
    ]);
    // The dialog knows every permission we ask for (it refuses unknown ones).
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for scopes in [FACEBOOK_SCOPES, INSTAGRAM_SCOPES] {
        let url = client(&fake).dialog_url(REDIRECT, "state-1", scopes).unwrap();
        assert_eq!(browser.get(url).send().await.unwrap().status(), 303, "{scopes:?}");
    }
    // An app with "Require App Secret" on: every call must carry appsecret_proof.
    fake.require_appsecret_proof(true);
    let client = client(&fake);
    let callback = login(&client).await;
    let short = client.exchange_code(&callback["code"], REDIRECT).await.unwrap();
    let long = client.long_lived(&short.access_token).await.unwrap();
    // One Page a page, whatever limit we ask: the second comes only through paging.next.
    fake.set_page_size(1);
    let pages = client.pages(&long.access_token).await.unwrap();
    assert_eq!(pages.iter().map(|page| page.id.as_str()).collect::<Vec<_>>(), ["501", "502"]);
    let bakery = &pages[0];
    assert_eq!(bakery.picture_url.as_deref(), Some("https://scontent.example/501.jpg"));
    assert_eq!(bakery.instagram.as_ref().unwrap().username.as_deref(), Some("cornerbakery"));
    client.check_token("1784501", &bakery.access_token).await.unwrap();
    assert!(
        matches!(
            client.check_token("999999", &bakery.access_token).await,
            Err(PlatformError::Permanent(_))
        ),
        "an unknown object is 100/33, not a dead token"
    );

    fake.set_rate_limit(Some((32, std::time::Duration::from_secs(300))));
    assert_eq!(
        client.check_token("501", &bakery.access_token).await,
        Err(PlatformError::RateLimited { reset: Some(std::time::Duration::from_secs(300)) })
    );
    fake.set_rate_limit(None);

    fake.set_outage(Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR));
    assert!(matches!(client.pages(&long.access_token).await, Err(PlatformError::Transient(_))));
    fake.set_outage(None);

    fake.expire_tokens();
    assert!(matches!(
        client.check_token("501", &bakery.access_token).await,
        Err(PlatformError::AuthDead(_))
    ));
    assert!(matches!(client.pages(&long.access_token).await, Err(PlatformError::AuthDead(_))));
}
