//! Signed, expiring public links to media files, for platforms that fetch media by URL
//! (Instagram). A link names workspace, media id and expiry, with an HMAC-SHA256 over all three;
//! it is checked in constant time and nothing else about media is public.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use postroute_domain::{MediaId, WorkspaceId};
use sha2::Sha256;
use url::Url;

/// The key-derivation purpose of link signatures.
pub const LINK_KEY_PURPOSE: &str = "postroute/media-link/v1";

/// A public link and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicLink {
    /// The URL.
    pub url: Url,
    /// Its expiry.
    pub expires_at: DateTime<Utc>,
}

/// What checking a presented link found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCheck {
    /// Signed by us and not expired.
    Valid,
    /// Signed by us, but past its expiry.
    Expired,
    /// Not a signature of ours.
    Forged,
}

/// Makes and checks links.
#[derive(Clone)]
pub struct LinkSigner {
    /// Current key first; older ones still verify.
    keys: Vec<[u8; 32]>,
    public_url: Url,
    lifetime: std::time::Duration,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LinkSigner")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl LinkSigner {
    /// A signer with `keys` (current first, at least one) for links under `public_url`.
    pub fn new(keys: Vec<[u8; 32]>, public_url: Url, lifetime: std::time::Duration) -> Self {
        Self { keys, public_url, lifetime }
    }

    /// A link to `media` of `workspace`, valid from `now` for the configured lifetime.
    pub fn link(&self, workspace: WorkspaceId, media: MediaId, now: DateTime<Utc>) -> PublicLink {
        let expires_at = crate::clock::after(now, self.lifetime);
        let expires = expires_at.timestamp();
        let mut url = self.public_url.clone();
        url.set_path(&format!("/v1/public/media/{workspace}/{media}"));
        url.query_pairs_mut().append_pair("expires", &expires.to_string()).append_pair(
            "signature",
            &URL_SAFE_NO_PAD.encode(self.mac(0, workspace, media, expires).finalize().into_bytes()),
        );
        // The signature covers the second, not the sub-second part.
        let expires_at = DateTime::from_timestamp(expires, 0).unwrap_or(expires_at);
        PublicLink { url, expires_at }
    }

    /// Checks a presented link.
    pub fn check(
        &self,
        workspace: WorkspaceId,
        media: MediaId,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> LinkCheck {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return LinkCheck::Forged;
        };
        let genuine = (0..self.keys.len())
            .any(|key| self.mac(key, workspace, media, expires).verify_slice(&signature).is_ok());
        if !genuine {
            LinkCheck::Forged
        } else if now.timestamp() >= expires {
            LinkCheck::Expired
        } else {
            LinkCheck::Valid
        }
    }

    fn keyed(&self, key: usize) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.keys[key]).unwrap_or_else(|_| unreachable!())
    }

    fn mac(
        &self,
        key: usize,
        workspace: WorkspaceId,
        media: MediaId,
        expires: i64,
    ) -> Hmac<Sha256> {
        let mut mac = self.keyed(key);
        mac.update(message(workspace, media, expires).as_bytes());
        mac
    }
}

fn message(workspace: WorkspaceId, media: MediaId, expires: i64) -> String {
    format!("media-link\n{workspace}\n{media}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(keys: Vec<[u8; 32]>) -> LinkSigner {
        LinkSigner::new(
            keys,
            Url::parse("https://postroute.example").unwrap_or_else(|_| unreachable!()),
            std::time::Duration::from_secs(3600),
        )
    }

    fn parts(link: &PublicLink) -> (i64, String) {
        let pairs: std::collections::HashMap<String, String> =
            link.url.query_pairs().into_owned().collect();
        (pairs["expires"].parse().unwrap_or_default(), pairs["signature"].clone())
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_only_for_its_media() {
        let signer = signer(vec![[7; 32]]);
        let (workspace, media, now) = (WorkspaceId::new(), MediaId::new(), Utc::now());
        let link = signer.link(workspace, media, now);
        let (expires, signature) = parts(&link);
        assert_eq!(signer.check(workspace, media, expires, &signature, now), LinkCheck::Valid);
        let later = now + chrono::Duration::hours(2);
        assert_eq!(signer.check(workspace, media, expires, &signature, later), LinkCheck::Expired);
        assert_eq!(
            signer.check(workspace, MediaId::new(), expires, &signature, now),
            LinkCheck::Forged
        );
        assert_eq!(
            signer.check(WorkspaceId::new(), media, expires, &signature, now),
            LinkCheck::Forged
        );
        assert_eq!(
            signer.check(workspace, media, expires + 3600, &signature, now),
            LinkCheck::Forged
        );
        assert_eq!(signer.check(workspace, media, expires, "not base64!", now), LinkCheck::Forged);
    }

    #[test]
    fn links_signed_before_a_key_rotation_still_verify() {
        let (workspace, media, now) = (WorkspaceId::new(), MediaId::new(), Utc::now());
        let link = signer(vec![[1; 32]]).link(workspace, media, now);
        let (expires, signature) = parts(&link);
        let rotated = signer(vec![[2; 32], [1; 32]]);
        assert_eq!(rotated.check(workspace, media, expires, &signature, now), LinkCheck::Valid);
        assert_eq!(
            signer(vec![[2; 32]]).check(workspace, media, expires, &signature, now),
            LinkCheck::Forged
        );
    }
}
