//! Access tokens (S-AUTH-1): HS256 JWTs, algorithm pinned, `kid` for rotation, no leeway.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use postroute_domain::{SessionId, UserId};
use serde::{Deserialize, Serialize};

use crate::crypto::sha256;

/// The audience every PostRoute access token names.
pub const AUDIENCE: &str = "postroute-api";

/// What an access token says.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// The verified content of an access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user.
    pub user: UserId,
    /// The session the token was issued to.
    pub session: SessionId,
}

/// Any reason an access token is refused. Deliberately one variant: callers answer 401
/// whatever went wrong and must not tell an attacker which check failed.
#[derive(Debug, thiserror::Error)]
#[error("access token refused: {0}")]
pub struct TokenRefused(String);

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    fn new(secret: &[u8]) -> Self {
        let digest = sha256(&[b"postroute-jwt-kid:".as_slice(), secret].concat());
        let kid = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        Self {
            kid,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// Issues and verifies access tokens.
pub struct AccessTokens {
    current: SigningKey,
    previous: Option<SigningKey>,
    issuer: String,
    ttl: Duration,
    validation: Validation,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("kid", &self.current.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    /// Tokens signed with `secret` (and still accepted when signed with `previous`).
    pub fn new(secret: &[u8], previous: Option<&[u8]>, issuer: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        Self {
            current: SigningKey::new(secret),
            previous: previous.map(SigningKey::new),
            issuer: issuer.to_owned(),
            ttl,
            validation,
        }
    }

    /// Seconds a token lives.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl.num_seconds()
    }

    /// A token for `user` in `session`, issued at `now`.
    pub fn issue(
        &self,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<String, TokenRefused> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.current.encoding)
            .map_err(|error| TokenRefused(error.to_string()))
    }

    /// The claims of a valid token: our algorithm, one of our keys by `kid`, our issuer and
    /// audience, not expired (not even by a second).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenRefused> {
        let refused = |reason: &str| TokenRefused(reason.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed"))?;
        if header.alg != Algorithm::HS256 {
            return Err(refused("algorithm"));
        }
        let kid = header.kid.ok_or_else(|| refused("no kid"))?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.kid == kid)
            .ok_or_else(|| refused("unknown kid"))?;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map_err(|error| TokenRefused(error.to_string()))?;
        Ok(AccessClaims {
            user: data.claims.sub.parse().map_err(|_| refused("sub"))?,
            session: data.claims.sid.parse().map_err(|_| refused("sid"))?,
        })
    }
}
