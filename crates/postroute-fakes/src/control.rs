//! Every fake at once, with one HTTP control API over them (README "Control API"): what the
//! fakes binary runs, and what the referee suite drives with the platforms' own client libraries.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::json;
use url::Url;

use crate::{FakeMeta, FakeResend, FakeSmtp, FakeX};

/// The credentials each fake accepts.
#[derive(Clone, Debug)]
pub struct FakeCredentials {
    /// Resend API key.
    pub resend_key: String,
    /// X OAuth 2.0 client id and secret.
    pub x_client: (String, String),
    /// Meta app id and secret.
    pub meta_app: (String, String),
}

impl Default for FakeCredentials {
    fn default() -> Self {
        Self {
            resend_key: "re_fake_local".to_owned(),
            x_client: ("x-fake-client".to_owned(), "x-fake-secret".to_owned()),
            meta_app: ("meta-fake-app".to_owned(), "meta-fake-secret".to_owned()),
        }
    }
}

/// Ports for each fake; 0 picks a free one.
#[derive(Clone, Copy, Debug, Default)]
pub struct FakePorts {
    /// Resend.
    pub resend: u16,
    /// X.
    pub x: u16,
    /// Meta.
    pub meta: u16,
    /// SMTP relay.
    pub smtp: u16,
    /// The control API.
    pub control: u16,
}

impl FakePorts {
    /// The binary's fixed ports, so PostRoute's printed configuration stays valid across runs.
    pub const LOCAL: Self = Self { resend: 4010, x: 4011, meta: 4012, smtp: 4025, control: 4000 };
}

/// Every fake platform, running.
#[derive(Debug)]
pub struct Fakes {
    /// The fake Resend.
    pub resend: FakeResend,
    /// The fake SMTP relay.
    pub smtp: FakeSmtp,
    /// The fake X.
    pub x: FakeX,
    /// The fake Meta.
    pub meta: FakeMeta,
    /// The credentials they accept.
    pub credentials: FakeCredentials,
    control: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Fakes {
    /// Starts every fake and the control API on 127.0.0.1.
    pub async fn start(ports: FakePorts, credentials: FakeCredentials) -> std::io::Result<Self> {
        let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let resend = FakeResend::start_on(local(ports.resend), &credentials.resend_key).await?;
        let smtp = FakeSmtp::start_on(local(ports.smtp)).await?;
        let x = FakeX::start_on(local(ports.x), &credentials.x_client.0, &credentials.x_client.1)
            .await?;
        let meta =
            FakeMeta::start_on(local(ports.meta), &credentials.meta_app.0, &credentials.meta_app.1)
                .await?;
        let listener = tokio::net::TcpListener::bind(local(ports.control)).await?;
        let control = listener.local_addr()?;
        let endpoints = json!({
            "resend": resend.base_url().as_str(),
            "smtp": smtp.url(),
            "x": x.base_url().as_str(),
            "meta_graph": meta.graph_url().as_str(),
            "meta_dialog": meta.dialog_url().as_str(),
        });
        let router = Router::new()
            .route("/", get(move || async move { Json(endpoints) }))
            .nest("/x", x.control())
            .nest("/meta", meta.control())
            .nest("/resend", resend.control())
            .nest("/smtp", smtp.control());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { resend, smtp, x, meta, credentials, control, server })
    }

    /// The control API's base URL.
    pub fn control_url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.control)).unwrap_or_else(|_| unreachable!())
    }

    /// The SMTP relay's address.
    pub fn smtp_address(&self) -> SocketAddr {
        self.smtp.address()
    }

    /// The environment that points PostRoute at these fakes, one `KEY=value` a line.
    pub fn postroute_environment(&self) -> Vec<(String, String)> {
        let credentials = &self.credentials;
        [
            ("POSTROUTE_EMAIL__PROVIDER", "resend".to_owned()),
            ("POSTROUTE_EMAIL__RESEND_BASE_URL", self.resend.base_url().to_string()),
            ("POSTROUTE_EMAIL__RESEND_API_KEY", credentials.resend_key.clone()),
            ("POSTROUTE_X__CLIENT_ID", credentials.x_client.0.clone()),
            ("POSTROUTE_X__CLIENT_SECRET", credentials.x_client.1.clone()),
            ("POSTROUTE_X__AUTH_BASE_URL", self.x.base_url().to_string()),
            ("POSTROUTE_X__API_BASE_URL", self.x.base_url().to_string()),
            ("POSTROUTE_META__APP_ID", credentials.meta_app.0.clone()),
            ("POSTROUTE_META__APP_SECRET", credentials.meta_app.1.clone()),
            ("POSTROUTE_META__GRAPH_BASE_URL", self.meta.graph_url().to_string()),
            ("POSTROUTE_META__DIALOG_BASE_URL", self.meta.dialog_url().to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }
}

impl Drop for Fakes {
    fn drop(&mut self) {
        self.server.abort();
    }
}
