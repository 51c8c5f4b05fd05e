//! Credential mechanics: password hashing and access tokens. The account rules that use them
//! live in `accounts`.

pub mod access_token;
pub mod password_hasher;

pub use access_token::{AccessClaims, AccessTokens, TokenRefused};
pub use password_hasher::{HashError, PasswordHasher, Verification};
