//! The providers' signature schemes: HMAC-SHA256 over the raw body, compared in constant time.
//! The signing functions are public so that the fakes and tests sign exactly as providers do.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::hex;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
}

/// Constant-time equality of two byte strings.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut check = mac(b"postroute/compare");
    check.update(a);
    let tag = check.finalize().into_bytes();
    let mut expected = mac(b"postroute/compare");
    expected.update(b);
    expected.verify_slice(&tag).is_ok()
}

/// `Stripe-Signature` for `body` at `timestamp`: `t=<timestamp>,v1=<hex>`.
pub fn stripe_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut signer = mac(secret);
    signer.update(format!("{timestamp}.").as_bytes());
    signer.update(body);
    format!("t={timestamp},v1={}", hex(&signer.finalize().into_bytes()))
}

/// `X-Hub-Signature-256` for `body`: `sha256=<hex>`.
pub fn meta_signature(secret: &[u8], body: &[u8]) -> String {
    let mut signer = mac(secret);
    signer.update(body);
    format!("sha256={}", hex(&signer.finalize().into_bytes()))
}

/// `x-twitter-webhooks-signature` for `body` (and X's CRC answer): `sha256=<base64>`.
pub fn x_signature(secret: &[u8], body: &[u8]) -> String {
    let mut signer = mac(secret);
    signer.update(body);
    format!("sha256={}", STANDARD.encode(signer.finalize().into_bytes()))
}

/// Checks a Stripe delivery: any `v1` signature over `t.body` matches, and `t` is within
/// `tolerance` of now.
pub(super) fn check_stripe(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: chrono::Duration,
) -> Result<(), &'static str> {
    let header = header.ok_or("missing Stripe-Signature")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(unhex(value)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("no timestamp in Stripe-Signature")?;
    if signatures.is_empty() {
        return Err("no v1 signature in Stripe-Signature");
    }
    let mut signed = mac(secret);
    signed.update(format!("{timestamp}.").as_bytes());
    signed.update(body);
    let matches = signatures.iter().any(|signature| signed.clone().verify_slice(signature).is_ok());
    if !matches {
        return Err("signature does not match");
    }
    let age = now.timestamp() - timestamp;
    if age.abs() > tolerance.num_seconds() {
        return Err("timestamp outside the tolerance");
    }
    Ok(())
}

/// Checks a Meta delivery's `X-Hub-Signature-256`.
pub(super) fn check_meta(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), &'static str> {
    let header = header.ok_or("missing X-Hub-Signature-256")?;
    let signature =
        header.strip_prefix("sha256=").and_then(unhex).ok_or("malformed X-Hub-Signature-256")?;
    let mut signed = mac(secret);
    signed.update(body);
    signed.verify_slice(&signature).map_err(|_| "signature does not match")
}

/// Checks an X delivery's `x-twitter-webhooks-signature`.
pub(super) fn check_x(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), &'static str> {
    let header = header.ok_or("missing x-twitter-webhooks-signature")?;
    let signature = header
        .strip_prefix("sha256=")
        .and_then(|value| STANDARD.decode(value).ok())
        .ok_or("malformed x-twitter-webhooks-signature")?;
    let mut signed = mac(secret);
    signed.update(body);
    signed.verify_slice(&signature).map_err(|_| "signature does not match")
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_signatures_hold_body_secret_and_time() {
        let now = Utc::now();
        let tolerance = chrono::Duration::minutes(5);
        let header = stripe_signature(b"whsec_test", now.timestamp(), b"{\"id\":\"evt_1\"}");
        assert_eq!(
            check_stripe(b"whsec_test", Some(&header), b"{\"id\":\"evt_1\"}", now, tolerance),
            Ok(())
        );
        assert!(
            check_stripe(b"whsec_test", Some(&header), b"{\"id\":\"evt_2\"}", now, tolerance)
                .is_err()
        );
        assert!(
            check_stripe(b"whsec_other", Some(&header), b"{\"id\":\"evt_1\"}", now, tolerance)
                .is_err()
        );
        let later = now + chrono::Duration::minutes(6);
        assert_eq!(
            check_stripe(b"whsec_test", Some(&header), b"{\"id\":\"evt_1\"}", later, tolerance),
            Err("timestamp outside the tolerance")
        );
        // Several v1 signatures (during a secret roll): one matching is enough.
        let rolled = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(
            check_stripe(b"whsec_test", Some(&rolled), b"{\"id\":\"evt_1\"}", now, tolerance),
            Ok(())
        );
        assert!(check_stripe(b"whsec_test", None, b"{}", now, tolerance).is_err());
    }

    #[test]
    fn meta_and_x_signatures_match_only_their_body() {
        let meta = meta_signature(b"app-secret", b"{\"object\":\"page\"}");
        assert_eq!(check_meta(b"app-secret", Some(&meta), b"{\"object\":\"page\"}"), Ok(()));
        assert!(check_meta(b"app-secret", Some(&meta), b"{\"object\":\"user\"}").is_err());
        assert!(check_meta(b"app-secret", Some("sha256=zz"), b"{}").is_err());
        let x = x_signature(b"consumer", b"{}");
        assert_eq!(check_x(b"consumer", Some(&x), b"{}"), Ok(()));
        assert!(check_x(b"other", Some(&x), b"{}").is_err());
        assert!(constant_time_eq(b"token", b"token") && !constant_time_eq(b"token", b"tokem"));
    }
}
