//! Account helpers: a verified, signed-in user in one call, and the emails the app sent.

use std::time::Duration;

use postroute_fakes::ReceivedEmail;
use serde_json::{Value, json};

use crate::TestApp;

/// A password every helper account uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// A verified user with a live session.
#[derive(Clone, Debug)]
pub struct TestUser {
    /// The user id.
    pub id: String,
    /// The address.
    pub email: String,
    /// The password.
    pub password: String,
    /// The current access token.
    pub access_token: String,
    /// The current refresh token.
    pub refresh_token: String,
}

impl TestApp {
    /// The next email to `to` whose subject contains `subject`, waiting for the worker to deliver
    /// it (up to ten seconds).
    pub async fn email_to(&self, to: &str, subject: &str) -> ReceivedEmail {
        self.emails_to(to, subject, 1).await.pop().expect("one email")
    }

    /// Waits until `count` emails to `to` with `subject` arrived; returns them all.
    pub async fn emails_to(&self, to: &str, subject: &str, count: usize) -> Vec<ReceivedEmail> {
        for _ in 0..500 {
            let matching: Vec<ReceivedEmail> = self
                .resend()
                .accepted()
                .into_iter()
                .filter(|email| {
                    email.to.iter().any(|address| address == to) && email.subject.contains(subject)
                })
                .collect();
            if matching.len() >= count {
                return matching;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {count} email(s) to {to} with subject containing {subject:?} arrived");
    }

    /// Registers `email`, confirms it through the emailed link, and signs in.
    pub async fn signed_in_user(&self, email: &str) -> TestUser {
        self.post_json(
            "/v1/auth/register",
            &json!({"email": email, "password": PASSWORD, "name": "Test User"}),
            202,
        )
        .await;
        let token = token_in(&self.email_to(email, "Confirm your email").await);
        self.post_json("/v1/auth/verify-email", &json!({"token": token}), 200).await;
        self.login(email, PASSWORD).await
    }

    /// Signs in, expecting success.
    pub async fn login(&self, email: &str, password: &str) -> TestUser {
        let tokens = self
            .post_json("/v1/auth/login", &json!({"email": email, "password": password}), 200)
            .await
            .json();
        let access_token = string(&tokens, "access_token");
        let me = self.get_as(&access_token, "/v1/me", 200).await.json();
        TestUser {
            id: string(&me, "id"),
            email: email.to_owned(),
            password: password.to_owned(),
            access_token,
            refresh_token: string(&tokens, "refresh_token"),
        }
    }

    /// `GET path` with a bearer token, expecting `expected_status`.
    pub async fn get_as(
        &self,
        access_token: &str,
        path: &str,
        expected_status: u16,
    ) -> crate::TestResponse {
        self.send(
            self.request(reqwest::Method::GET, path).bearer_auth(access_token),
            expected_status,
        )
        .await
    }

    /// A request with a bearer token and a JSON body, expecting `expected_status`.
    pub async fn send_json_as(
        &self,
        access_token: &str,
        method: reqwest::Method,
        path: &str,
        body: &Value,
        expected_status: u16,
    ) -> crate::TestResponse {
        self.send(self.request(method, path).bearer_auth(access_token).json(body), expected_status)
            .await
    }

    /// Sends `body` as `user`, expects `expected_status`, and returns the JSON answer (null for
    /// an empty one, such as a 204).
    pub async fn json_as(
        &self,
        user: &crate::TestUser,
        method: reqwest::Method,
        path: &str,
        body: Value,
        expected_status: u16,
    ) -> Value {
        let response =
            self.send_json_as(&user.access_token, method, path, &body, expected_status).await;
        if response.body.is_empty() { Value::Null } else { response.json() }
    }
}

/// The token in an email's link (`...#token=XYZ`).
pub fn token_in(email: &ReceivedEmail) -> String {
    let start = email.text.find("#token=").expect("a link with a token") + "#token=".len();
    email.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect::<String>()
        .trim_end_matches('.')
        .to_owned()
}

impl TestApp {
    /// Creates a workspace as `owner`; returns its id.
    pub async fn workspace(&self, owner: &TestUser, name: &str) -> String {
        let created = self
            .send_json_as(
                &owner.access_token,
                reqwest::Method::POST,
                "/v1/workspaces",
                &json!({"name": name}),
                201,
            )
            .await
            .json();
        string(&created, "id")
    }
}

fn string(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("`{field}` in {value}")).to_owned()
}

impl TestApp {
    /// Starts connecting `provider` in `workspace` and plays the user's browser at the platform:
    /// returns the query string the platform sends back to our callback.
    pub async fn authorize_at_platform(
        &self,
        user: &TestUser,
        workspace: &str,
        provider: &str,
    ) -> String {
        let started = self
            .send_json_as(
                &user.access_token,
                reqwest::Method::POST,
                &format!("/v1/workspaces/{workspace}/channels/connect"),
                &json!({"provider": provider}),
                200,
            )
            .await
            .json();
        let authorize = string(&started, "authorize_url");
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = browser.get(&authorize).send().await.expect("the platform answers");
        let location = response.headers()["location"].to_str().expect("a redirect").to_owned();
        let back = url::Url::parse(&location).expect("a URL");
        assert_eq!(
            back.path(),
            format!("/v1/oauth/{provider}/callback"),
            "the platform returns to our callback"
        );
        back.query().unwrap_or_default().to_owned()
    }

    /// Completes a connection as `user` would through the web UI: posts what the platform sent
    /// back (`query`) to `/v1/oauth/{provider}/complete`.
    pub async fn oauth_callback(
        &self,
        user: &TestUser,
        provider: &str,
        query: &str,
        expected_status: u16,
    ) -> Value {
        let sent_back: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        self.send_json_as(
            &user.access_token,
            reqwest::Method::POST,
            &format!("/v1/oauth/{provider}/complete"),
            &serde_json::to_value(sent_back).expect("JSON"),
            expected_status,
        )
        .await
        .json()
    }

    /// Connects the fake Meta's first Page (`facebook`) or the Instagram account linked to it
    /// (`instagram`) to `workspace`; returns the channel id.
    pub async fn connect_meta(&self, user: &TestUser, workspace: &str, provider: &str) -> String {
        let query = self.authorize_at_platform(user, workspace, provider).await;
        let answer = self.oauth_callback(user, provider, &query, 200).await;
        if let Some(id) = answer["channel_ids"][0].as_str() {
            return id.to_owned();
        }
        let pending = string(&answer, "pending_id");
        let first = answer["candidates"][0]["external_id"].as_str().expect("a candidate");
        let created = self
            .send_json_as(
                &user.access_token,
                reqwest::Method::POST,
                &format!("/v1/workspaces/{workspace}/channels/pending/{pending}"),
                &json!({"external_ids": [first]}),
                201,
            )
            .await
            .json();
        string(&created["items"][0], "id")
    }

    /// Connects the fake X account to `workspace`; returns the channel id.
    pub async fn connect_x(&self, user: &TestUser, workspace: &str) -> String {
        let query = self.authorize_at_platform(user, workspace, "x").await;
        let connected = self.oauth_callback(user, "x", &query, 200).await;
        connected["channel_ids"][0].as_str().expect("a channel").to_owned()
    }
}
