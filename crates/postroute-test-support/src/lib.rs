//! Test support: boots the real PostRoute (the same `start` as `postroute serve`) on random
//! ports against a fresh SQLite file or a fresh PostgreSQL database, with a client that trusts
//! the instance's development certificate.
//!
//! PostgreSQL tests run when `POSTROUTE_TEST_POSTGRES_URL` names a server (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); without it they are skipped with a notice.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test support fails the test loudly when its environment is broken"
)]

mod accounts;
mod app;
pub mod corpus;
pub mod load;
mod media;
mod worker;

pub use accounts::{PASSWORD, TestUser, token_in};
pub use app::{SECURITY_HEADERS, TestApp, TestAppBuilder, TestResponse};
pub use media::{FormPart, multipart_body};
pub use postroute_test_db::{
    Backend, POSTGRES_URL_VARIABLE, REDIS_URL_VARIABLE, S3_URL_VARIABLE, TestDatabase, db_test,
    redis_url_from_env, s3_url_from_env,
};
pub use worker::{ProcessUsage, WorkerProcess};
