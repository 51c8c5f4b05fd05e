//! The running app under test and a client for it.

use std::net::SocketAddr;
use std::time::Duration;

use postroute_server::config::Config;
use postroute_server::{RunningApp, tls};
use postroute_store::{Store, StoreOptions};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tempfile::TempDir;

use crate::database::{Backend, TestDatabase};

/// Configures an app before it starts.
#[derive(Debug)]
pub struct TestAppBuilder {
    backend: Backend,
    config: Config,
}

impl TestAppBuilder {
    /// Changes the configuration the app starts with.
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Starts the app: migrations, listeners, everything `postroute serve` does.
    pub async fn spawn(self) -> TestApp {
        let data_dir = TempDir::new().expect("temporary data directory");
        let database = TestDatabase::create(&self.backend, data_dir.path()).await;
        let mut config = self.config;
        config.data_dir = data_dir.path().to_path_buf();
        config.database.url = Some(database.url().to_owned());
        config.validate().expect("test configuration is valid");

        let running = postroute_server::start(config.clone()).await.unwrap_or_else(|error| {
            panic!("app failed to start on {}: {error:#}", self.backend.name())
        });
        let client = client_trusting_development_certificate(&config);
        let store = Store::connect(&StoreOptions {
            url: database.url().to_owned(),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
        })
        .await
        .expect("test's own store connection");
        TestApp {
            backend: self.backend,
            config,
            client,
            store,
            running: Some(running),
            database,
            _data_dir: data_dir,
        }
    }
}

/// A PostRoute instance for one test, with its own database and data directory.
#[derive(Debug)]
pub struct TestApp {
    /// The database it runs on.
    pub backend: Backend,
    /// The configuration it was started with.
    pub config: Config,
    client: reqwest::Client,
    store: Store,
    running: Option<RunningApp>,
    database: TestDatabase,
    // Declared last: removed after the app and the database handle are gone.
    _data_dir: TempDir,
}

impl TestApp {
    /// Starts an app with the test defaults.
    pub async fn spawn(backend: Backend) -> Self {
        Self::builder(backend).spawn().await
    }

    /// An app to configure before starting. Listeners bind random local ports.
    pub fn builder(backend: Backend) -> TestAppBuilder {
        let mut config = Config::default();
        config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.log.level = "warn".to_owned();
        TestAppBuilder { backend, config }
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> SocketAddr {
        self.running().https_addr().expect("HTTPS listener is enabled")
    }

    /// The plain listener's address, when configured.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.running().plain_addr()
    }

    fn running(&self) -> &RunningApp {
        self.running.as_ref().expect("app is running")
    }

    /// `https://localhost:PORT/path` (the certificate names localhost).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_addr().port())
    }

    /// A client that trusts this instance's certificate (TLS 1.3, HTTP/1.1 or 2).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The test's own connection to the app's database, for asserting on rows.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The database, to make it unreachable and back.
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// The development certificate the instance generated.
    pub fn certificate_pem(&self) -> Vec<u8> {
        let (certificate, _) = tls::development_certificate_paths(&self.config.data_dir);
        std::fs::read(certificate).expect("development certificate")
    }

    /// A request to `path`, to finish and send.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends `request` and reads the whole response, whatever its status.
    pub async fn fetch(&self, request: RequestBuilder) -> TestResponse {
        let response = request.send().await.expect("request reaches the app");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("response body").to_vec();
        TestResponse { status, headers, body }
    }

    /// Sends `request` and checks the status, printing the body when it differs.
    pub async fn send(&self, request: RequestBuilder, expected_status: u16) -> TestResponse {
        let response = self.fetch(request).await;
        assert_eq!(
            response.status,
            expected_status,
            "unexpected status on {}; body: {}",
            self.backend.name(),
            String::from_utf8_lossy(&response.body)
        );
        response
    }

    /// `GET path`, expecting `expected_status`.
    pub async fn get(&self, path: &str, expected_status: u16) -> TestResponse {
        self.send(self.request(Method::GET, path), expected_status).await
    }

    /// `POST path` with a JSON body, expecting `expected_status`.
    pub async fn post_json(&self, path: &str, body: &Value, expected_status: u16) -> TestResponse {
        self.send(self.request(Method::POST, path).json(body), expected_status).await
    }

    /// Begins a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        self.running().begin_shutdown();
    }

    /// Shuts down gracefully and waits until every listener has stopped.
    pub async fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            running.begin_shutdown();
            running.wait().await.expect("clean shutdown");
        }
    }
}

fn client_trusting_development_certificate(config: &Config) -> reqwest::Client {
    let (certificate, _) = tls::development_certificate_paths(&config.data_dir);
    let pem = std::fs::read(certificate).expect("development certificate was generated");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM certificate"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("body is not JSON ({error}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}
