//! The running app under test and a client for it.

use std::net::SocketAddr;
use std::time::Duration;

use postroute_app::config::{Config, EmailProvider};
use postroute_fakes::{FakeMeta, FakeResend, FakeX};
use postroute_http::transport::tls;
use postroute_server::RunningApp;
use postroute_store::{Store, StoreOptions};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tempfile::TempDir;

use postroute_test_db::{Backend, TestDatabase};

/// The API key the fake Resend of every test app accepts.
const RESEND_TEST_KEY: &str = "re_test_support";
/// The X app of every test app.
const X_CLIENT: (&str, &str) = ("x-test-client", "x-test-secret");
/// The Meta app of every test app.
const META_APP: (&str, &str) = ("meta-test-app", "meta-test-secret");

/// Configures an app before it starts.
#[derive(Debug)]
pub struct TestAppBuilder {
    backend: Backend,
    config: Config,
    jwt_secret: Vec<u8>,
    shared_redis_prefix: Option<String>,
    without_fake_resend: bool,
    own_oauth_key: bool,
    x_of: Option<url::Url>,
}

impl TestAppBuilder {
    /// Talks to `fake` instead of a fake X of its own: instances of one deployment publish to
    /// one platform, so a test can count what they published together.
    pub fn x_of(mut self, fake: &FakeX) -> Self {
        self.x_of = Some(fake.base_url());
        self
    }

    /// Changes the configuration the app starts with.
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Limits through the Redis at `redis_url`, under `key_prefix`: apps given the same prefix
    /// share their budgets, as instances of one deployment do.
    pub fn redis(mut self, redis_url: &str, key_prefix: &str) -> Self {
        self.config.redis.url = Some(secrecy::SecretString::from(redis_url.to_owned()));
        self.shared_redis_prefix = Some(key_prefix.to_owned());
        self
    }

    /// Seals with `current` and opens what `previous` sealed, even beside another instance: a
    /// deployment after (or during) a key rotation.
    pub fn oauth_keys(mut self, current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        self.config.encryption.oauth_key = Some(base64_secret(current));
        self.config.encryption.previous_oauth_keys =
            previous.iter().map(|key| base64_secret(key)).collect();
        self.own_oauth_key = true;
        self
    }

    /// Listens on a port chosen now and names it as the public URL, so that links the app
    /// hands out (signed media links a fake platform fetches) reach it.
    pub fn reachable_public_url(mut self) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        self.config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], port)));
        self.config.http.public_url =
            url::Url::parse(&format!("https://127.0.0.1:{port}")).expect("a URL");
        self
    }

    /// Delivers mail as the configuration says (the development `log` provider unless the test
    /// configures another) instead of to the fake Resend.
    pub fn without_fake_resend(mut self) -> Self {
        self.without_fake_resend = true;
        self
    }

    /// Starts the app: migrations, listeners, worker, everything `postroute serve` does.
    pub async fn spawn(self) -> TestApp {
        self.spawn_on(None).await
    }

    /// Starts a second instance on the same database as `other` (several `serve` processes).
    pub async fn spawn_beside(self, other: &TestApp) -> TestApp {
        self.spawn_on(Some(other)).await
    }

    async fn spawn_on(mut self, beside: Option<&TestApp>) -> TestApp {
        if let Some(other) = beside {
            // Instances of one deployment share their keys: what one seals, another opens.
            self.jwt_secret = other.jwt_secret.clone();
            if !self.own_oauth_key {
                self.config.encryption.oauth_key = other.config.encryption.oauth_key.clone();
            }
            self.config.backup.key = other.config.backup.key.clone();
        }
        let data_dir = TempDir::new().expect("temporary data directory");
        let own_database = match beside {
            Some(_) => None,
            None => Some(TestDatabase::create(&self.backend, data_dir.path()).await),
        };
        let database_url = match (beside, &own_database) {
            (Some(other), _) => other.database_url.clone(),
            (None, Some(database)) => database.url().to_owned(),
            (None, None) => unreachable!("a database was just created"),
        };
        let resend = FakeResend::start(RESEND_TEST_KEY).await.expect("fake Resend starts");
        let fake_x = FakeX::start(X_CLIENT.0, X_CLIENT.1).await.expect("fake X starts");
        let fake_meta = FakeMeta::start(META_APP.0, META_APP.1).await.expect("fake Meta starts");
        let mut config = self.config;
        config.data_dir = data_dir.path().to_path_buf();
        config.database.url = Some(database_url.clone());
        if !self.without_fake_resend {
            config.email.provider = EmailProvider::Resend;
            config.email.resend_base_url = resend.base_url();
            config.email.resend_api_key =
                Some(secrecy::SecretString::from(RESEND_TEST_KEY.to_owned()));
        }
        config.auth.jwt_secret = Some(base64_secret(&self.jwt_secret));
        config.x.client_id = Some(X_CLIENT.0.to_owned());
        config.x.client_secret = Some(secrecy::SecretString::from(X_CLIENT.1.to_owned()));
        let x_base = self.x_of.clone().unwrap_or_else(|| fake_x.base_url());
        config.x.auth_base_url = x_base.clone();
        config.x.api_base_url = x_base;
        config.meta.app_id = Some(META_APP.0.to_owned());
        config.meta.app_secret = Some(secrecy::SecretString::from(META_APP.1.to_owned()));
        config.meta.graph_base_url = fake_meta.graph_url();
        config.meta.dialog_base_url = fake_meta.dialog_url();
        config.redis.key_prefix = self
            .shared_redis_prefix
            .unwrap_or_else(|| format!("postroute-test:{}:", uuid::Uuid::now_v7().simple()));
        config.validate().expect("test configuration is valid");

        let running = postroute_server::start(config.clone()).await.unwrap_or_else(|error| {
            panic!("app failed to start on {}: {error:#}", self.backend.name())
        });
        let client = client_trusting_development_certificate(&config);
        // The test's own connection keeps the login role: assertions may look across tenants.
        let store = Store::connect(&StoreOptions {
            url: database_url.clone(),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
            app_role: None,
        })
        .await
        .expect("test's own store connection");
        TestApp {
            backend: self.backend,
            config,
            client,
            store,
            running: Some(running),
            resend,
            fake_x,
            fake_meta,
            jwt_secret: self.jwt_secret,
            database_url,
            database: own_database,
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
    resend: FakeResend,
    fake_x: FakeX,
    fake_meta: FakeMeta,
    jwt_secret: Vec<u8>,
    database_url: String,
    /// `None` for an instance started beside another: the first owns the database.
    database: Option<TestDatabase>,
    // Declared last: removed after the app and the database handle are gone.
    _data_dir: TempDir,
}

impl TestApp {
    /// Starts an app with the test defaults.
    pub async fn spawn(backend: Backend) -> Self {
        Self::builder(backend).spawn().await
    }

    /// An app to configure before starting. Listeners bind random local ports; mail goes to
    /// a fake Resend; Argon2 runs at OWASP's minimum (the production default is stronger, and
    /// slower than a test suite needs); the credential and invitation limits are generous
    /// unless a test sets them.
    pub fn builder(backend: Backend) -> TestAppBuilder {
        let mut config = Config::default();
        config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.log.level = "warn".to_owned();
        config.auth.argon2.memory_kib = 19_456;
        config.auth.argon2.iterations = 2;
        config.rate_limits.credential_attempts = 1_000;
        config.rate_limits.requests_per_minute = 10_000;
        // Tests invite from many workspaces of one owner; the invitation tests set their own.
        config.rate_limits.invitations_per_workspace_per_day = 1_000;
        config.rate_limits.invitations_per_inviter_per_day = 1_000;
        config.worker.poll_interval_ms = 20;
        config.worker.token_check_interval_secs = 1;
        config.email.retry_base_secs = 1;
        let jwt_secret = random_bytes();
        config.encryption.oauth_key = Some(base64_secret(&random_bytes()));
        config.backup.key = Some(base64_secret(&random_bytes()));
        TestAppBuilder {
            backend,
            config,
            jwt_secret,
            shared_redis_prefix: None,
            without_fake_resend: false,
            own_oauth_key: false,
            x_of: None,
        }
    }

    /// The environment a separate `postroute worker` process needs to work beside this app:
    /// its database, keys, fakes and worker settings, as `POSTROUTE_*` variables.
    pub fn worker_env(&self) -> Vec<(String, String)> {
        use secrecy::ExposeSecret;
        let config = &self.config;
        let secret = |value: &Option<secrecy::SecretString>| {
            value.as_ref().map(|value| value.expose_secret().to_owned()).unwrap_or_default()
        };
        let worker = &config.worker;
        let looks: Vec<String> =
            worker.reconcile_looks_secs.iter().map(ToString::to_string).collect();
        let mut env = vec![
            ("POSTROUTE_DATABASE__URL", self.database_url.clone()),
            ("POSTROUTE_ENCRYPTION__OAUTH_KEY", secret(&config.encryption.oauth_key)),
            ("POSTROUTE_AUTH__JWT_SECRET", secret(&config.auth.jwt_secret)),
            ("POSTROUTE_BACKUP__KEY", secret(&config.backup.key)),
            ("POSTROUTE_HTTP__PUBLIC_URL", config.http.public_url.to_string()),
            ("POSTROUTE_X__CLIENT_ID", config.x.client_id.clone().unwrap_or_default()),
            ("POSTROUTE_X__CLIENT_SECRET", secret(&config.x.client_secret)),
            ("POSTROUTE_X__AUTH_BASE_URL", config.x.auth_base_url.to_string()),
            ("POSTROUTE_X__API_BASE_URL", config.x.api_base_url.to_string()),
            ("POSTROUTE_META__APP_ID", config.meta.app_id.clone().unwrap_or_default()),
            ("POSTROUTE_META__APP_SECRET", secret(&config.meta.app_secret)),
            ("POSTROUTE_META__GRAPH_BASE_URL", config.meta.graph_base_url.to_string()),
            ("POSTROUTE_META__DIALOG_BASE_URL", config.meta.dialog_base_url.to_string()),
            ("POSTROUTE_WORKER__POLL_INTERVAL_MS", worker.poll_interval_ms.to_string()),
            (
                "POSTROUTE_WORKER__TOKEN_CHECK_INTERVAL_SECS",
                worker.token_check_interval_secs.to_string(),
            ),
            ("POSTROUTE_WORKER__PUBLISH_LEASE_SECS", worker.publish_lease_secs.to_string()),
            ("POSTROUTE_WORKER__MISSED_AFTER_MINS", worker.missed_after_mins.to_string()),
            ("POSTROUTE_WORKER__RECONCILE_LOOKS_SECS", format!("[{}]", looks.join(","))),
            ("POSTROUTE_EMAIL__RETRY_BASE_SECS", config.email.retry_base_secs.to_string()),
            ("POSTROUTE_LOG__LEVEL", "warn".to_owned()),
        ];
        if config.email.provider == EmailProvider::Resend {
            env.push(("POSTROUTE_EMAIL__PROVIDER", "resend".to_owned()));
            env.push((
                "POSTROUTE_EMAIL__RESEND_BASE_URL",
                config.email.resend_base_url.to_string(),
            ));
            env.push(("POSTROUTE_EMAIL__RESEND_API_KEY", secret(&config.email.resend_api_key)));
        }
        env.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> SocketAddr {
        self.running().https_addr().expect("HTTPS listener is enabled")
    }

    /// The plain listener's address, when configured.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.running().plain_addr()
    }

    /// The metrics listener's address, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.running().metrics_addr()
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
        self.database.as_ref().expect("this instance owns its database")
    }

    /// Runs one statement written in SQL both dialects understand, behind the app's back: for
    /// tests that need a state the API cannot produce quickly (an expired token).
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        use sqlx::{Connection, Executor};
        match self.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.database_url)
                    .await
                    .expect("SQLite connection");
                connection.execute(sql).await.expect("statement runs").rows_affected()
            }
            Backend::Postgres { .. } => {
                let mut connection = sqlx::PgConnection::connect(&self.database_url)
                    .await
                    .expect("PostgreSQL connection");
                connection.execute(sql).await.expect("statement runs").rows_affected()
            }
        }
    }

    /// The single integer a `SELECT count(*) ...` written in SQL both dialects understand returns.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.database_url)
                    .await
                    .expect("SQLite connection");
                sqlx::query_scalar(sql).fetch_one(&mut connection).await.expect("count query runs")
            }
            Backend::Postgres { .. } => {
                let mut connection = sqlx::PgConnection::connect(&self.database_url)
                    .await
                    .expect("PostgreSQL connection");
                sqlx::query_scalar(sql).fetch_one(&mut connection).await.expect("count query runs")
            }
        }
    }

    /// A dialect-correct literal for a uuid column.
    pub fn uuid_literal(&self, id: &str) -> String {
        let id = uuid::Uuid::parse_str(id).expect("a uuid");
        match self.backend {
            Backend::Sqlite => format!("X'{}'", id.simple()),
            Backend::Postgres { .. } => format!("'{id}'::uuid"),
        }
    }

    /// Adds a member directly in the database: a shortcut for tests about what members may do,
    /// not about how they join (invitations have tests of their own).
    pub async fn add_member(&self, workspace_id: &str, user_id: &str, role: &str) {
        let now = "'2026-01-01T00:00:00+00:00'";
        self.execute_sql(&format!(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) VALUES ({}, {}, '{role}', {now}, {now})",
            self.uuid_literal(workspace_id),
            self.uuid_literal(user_id),
        ))
        .await;
    }

    /// Adds an active channel row without tokens (for tests about who may act on channels, not
    /// about connecting them); returns its id.
    pub async fn add_channel(&self, workspace_id: &str, external_id: &str) -> String {
        self.add_channel_of(workspace_id, "x", external_id).await
    }

    /// Adds an active channel of `provider` (`x`, `facebook`, `instagram`) straight to the
    /// database.
    pub async fn add_channel_of(
        &self,
        workspace_id: &str,
        provider: &str,
        external_id: &str,
    ) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        let now = "'2026-01-01T00:00:00+00:00'";
        self.execute_sql(&format!(
            "INSERT INTO channels (workspace_id, id, provider, external_id, display_name, status, connected_at, updated_at) \
             VALUES ({}, {}, '{provider}', '{external_id}', '@{external_id}', 'active', {now}, {now})",
            self.uuid_literal(workspace_id),
            self.uuid_literal(&id),
        ))
        .await;
        id
    }

    /// Makes `user_id` PostRoute staff (what `postroute admin grant-staff` does).
    pub async fn make_staff(&self, user_id: &str) {
        self.execute_sql(&format!(
            "UPDATE users SET is_staff = true WHERE id = {}",
            self.uuid_literal(user_id)
        ))
        .await;
    }

    /// Puts a workspace on `plan` (what billing will do).
    pub async fn set_plan(&self, workspace_id: &str, plan: &str) {
        self.execute_sql(&format!(
            "UPDATE workspaces SET plan = '{plan}' WHERE id = {}",
            self.uuid_literal(workspace_id)
        ))
        .await;
    }

    /// Makes every email token (verification, reset) already expired.
    pub async fn expire_email_tokens(&self) {
        self.execute_sql("UPDATE email_tokens SET expires_at = created_at").await;
    }

    /// The fake Resend receiving this app's mail.
    pub fn resend(&self) -> &FakeResend {
        &self.resend
    }

    /// The fake X this app's X channels connect to.
    pub fn fake_x(&self) -> &FakeX {
        &self.fake_x
    }

    /// The fake Meta this app's Facebook and Instagram channels connect to.
    pub fn fake_meta(&self) -> &FakeMeta {
        &self.fake_meta
    }

    /// The access-token signing key, for tests that forge tokens.
    pub fn jwt_secret(&self) -> &[u8] {
        &self.jwt_secret
    }

    /// A client builder trusting the instance's certificate, for clients configured otherwise
    /// than the test client (benchmarks: HTTP/1.1, pool sizes, long timeouts).
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        client_builder_trusting(&self.config)
    }

    /// The development certificate the instance generated.
    pub fn certificate_pem(&self) -> Vec<u8> {
        let (certificate, _) = tls::development_certificate_paths(&self.config.data_dir);
        std::fs::read(certificate).expect("development certificate")
    }

    /// A raw TLS connection to the HTTPS listener offering only `versions`, trusting the
    /// instance's certificate: for tests that speak HTTP by hand or probe the handshake.
    pub async fn tls_connect(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        self.tls_connect_offering(versions, &[]).await
    }

    /// A raw TLS 1.3 connection that offers `alpn` (`b"h2"`, `b"http/1.1"`): for tests that
    /// drive one HTTP version with a client of their own.
    pub async fn tls_connect_alpn(
        &self,
        alpn: &[u8],
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        self.tls_connect_offering(&[&rustls::version::TLS13], &[alpn]).await
    }

    async fn tls_connect_offering(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let pem = self.certificate_pem();
        for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(certificate.expect("PEM certificate")).expect("trusted root");
        }
        let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .expect("supported versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        let tcp = tokio::net::TcpStream::connect(self.https_addr()).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await
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

fn random_bytes() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes
}

fn base64_secret(bytes: &[u8]) -> secrecy::SecretString {
    secrecy::SecretString::from(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        bytes,
    ))
}

fn client_trusting_development_certificate(config: &Config) -> reqwest::Client {
    client_builder_trusting(config)
        // Tests see redirects as the API answers them.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// An HTTP client builder that trusts only the instance's development certificate.
fn client_builder_trusting(config: &Config) -> reqwest::ClientBuilder {
    let (certificate, _) = tls::development_certificate_paths(&config.data_dir);
    let pem = std::fs::read(certificate).expect("development certificate was generated");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM certificate"))
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

    /// Asserts the headers every API response carries (S-EDGE-4, S-TLS-2); `context` names the
    /// response in the failure message.
    pub fn assert_security_headers(&self, context: &str) {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(self.header(name), Some(value), "{name} on {context}");
        }
    }
}

/// The security headers of an API response, as the security page promises them.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
];
