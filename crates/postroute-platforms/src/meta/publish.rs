//! Publishing to Facebook Pages and Instagram (publishing.md B.1, B.2), and the reads that
//! reconciliation makes afterwards (publishing.md C).
//!
//! Every call a publish attempt makes returns [`PublishFailure`], whose outcome class depends on
//! the call as much as on Graph's answer (publishing.md B.3, F.11): after `POST /feed`, a
//! published `/photos`, `/videos` or `/media_publish` has been sent, a 5xx, a timeout, a cut-off
//! answer or Graph's "transient" codes may hide a post that exists, so they are
//! [`Outcome::Ambiguous`]; the steps that publish nothing (an unpublished photo, an Instagram
//! container, the status and quota reads) are [`Outcome::Transient`] for the same answers.
//! The reads made after the post is known to exist, or to find it (permalink, listings), return
//! [`PlatformError`]: they decide nothing about the target on their own.
//!
//! Every call carries the token in the `Authorization` header and its `appsecret_proof` in the
//! query string, as the login calls in [`super`] do.

use chrono::{TimeDelta, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use postroute_domain::publish::Outcome;

use super::{ErrorEnvelope, MetaClient, classify};
use crate::{PlatformError, PublishFailure};

mod instagram;
mod page;
mod reconcile;

pub use instagram::{ContainerStatus, IgContainer, PublishingLimit};
pub use page::{PublishedPagePhoto, PublishedPagePost, PublishedPageVideo, facebook_url};
pub use reconcile::{IgMediaSummary, IgMediaType, PageAttachmentType, PagePostSummary, PagePosts};

/// One Graph call of a publish attempt: what it is decides what a failure means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    /// `POST /{page-id}/feed`: a text, link or multi-photo post.
    Feed,
    /// `POST /{page-id}/photos`, published: the photo is a feed post at once.
    PublishedPhoto,
    /// `POST /{page-id}/photos` with `published=false`: seen by no one until a feed post
    /// attaches it.
    UnpublishedPhoto,
    /// `POST /{page-id}/videos`: published when Graph has it.
    Video,
    /// `POST /{ig-user-id}/media`: a container, which nothing sees until `media_publish`.
    CreateContainer,
    /// `GET /{container-id}?fields=status_code,status`.
    ContainerStatus,
    /// `POST /{ig-user-id}/media_publish`: the container goes live.
    MediaPublish,
    /// `GET /{ig-user-id}/content_publishing_limit`.
    PublishingLimit,
}

impl Call {
    /// Whether the call can create a post people see: then nothing after the request left
    /// proves that it did not.
    fn irreversible(self) -> bool {
        matches!(self, Self::Feed | Self::PublishedPhoto | Self::Video | Self::MediaPublish)
    }

    fn method(self) -> Method {
        match self {
            Self::ContainerStatus | Self::PublishingLimit => Method::GET,
            _ => Method::POST,
        }
    }

    /// The endpoint, for messages.
    fn name(self) -> &'static str {
        match self {
            Self::Feed => "POST /feed",
            Self::PublishedPhoto => "POST /photos",
            Self::UnpublishedPhoto => "POST /photos (unpublished)",
            Self::Video => "POST /videos",
            Self::CreateContainer => "POST /media",
            Self::ContainerStatus => "GET container status",
            Self::MediaPublish => "POST /media_publish",
            Self::PublishingLimit => "GET /content_publishing_limit",
        }
    }
}

impl MetaClient {
    /// Sends one publishing call and reads Graph's answer as `T`. `params` go in the form body
    /// of a POST and the query string of a GET; Graph reads both alike (platforms.md 2).
    async fn publishing_call<T: DeserializeOwned>(
        &self,
        call: Call,
        path: &str,
        token: &str,
        params: &[(&str, &str)],
    ) -> Result<T, PublishFailure> {
        let mut url =
            self.graph(path).map_err(|error| PublishFailure::unsent(error.to_string()))?;
        let request = match call.method() {
            Method::GET => {
                url.query_pairs_mut().extend_pairs(params);
                self.http.get(self.signed(url, token))
            }
            _ => self.http.post(self.signed(url, token)).form(params),
        };
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|error| PublishFailure::network(error, call.irreversible()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            // The answer was cut off after the request arrived: an irreversible call may have
            // created the post.
            Err(error) => return Err(PublishFailure::network(error, call.irreversible())),
        };
        if !status.is_success() {
            return Err(classify_publish(call, status, &headers, &body));
        }
        serde_json::from_slice(&body).map_err(|error| {
            let detail = format!("Graph answered {status} to {} unreadably: {error}", call.name());
            let outcome = if call.irreversible() {
                // A 200 without the id we need still means Graph acted.
                Outcome::Ambiguous { detail }
            } else {
                Outcome::Transient { detail }
            };
            PublishFailure {
                outcome,
                http_status: Some(status.as_u16()),
                platform_code: None,
                request_id: request_id(&headers, None),
            }
        })
    }
}

/// Graph's support id of the request: the `x-fb-trace-id` header when Graph sends it, else the
/// error body's `fbtrace_id` (the one the specs record, platforms.md 2.4).
fn request_id(headers: &HeaderMap, fbtrace_id: Option<&str>) -> Option<String> {
    headers
        .get("x-fb-trace-id")
        .and_then(|value| value.to_str().ok())
        .or(fbtrace_id)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// What a refused or failed publishing call means for the target (publishing.md B.2, B.3,
/// F.10, F.11). Graph's general table is [`classify`]'s; the call decides the rest:
///
/// | Graph says | irreversible call | any other call |
/// |---|---|---|
/// | 190 (subcodes 458–467), 102 | auth dead | auth dead |
/// | 4, 17, 32, 341, 613, 80000–80099 | rate limited until `estimated_time_to_regain_access` | the same |
/// | 1, 2, `is_transient`, any 5xx | **ambiguous** | transient |
/// | 368/1390008 (posting too fast) on Page calls | rate limited, no reset | the same |
/// | 9 (2207042, the day's quota) on `media_publish` | rate limited, no reset | — |
/// | 9007/2207027 on `media_publish` (container not FINISHED) | transient | — |
/// | 9004, or subcode 2207052, on container creation (media fetch) | — | transient |
/// | 100/33 on a container status read (seen intermittently) | — | transient |
/// | 506 duplicate, 10 and 200–299 permissions, 100 and the rest | permanent | permanent |
///
/// 506 ("Duplicate status message") is permanent for the call that gets it, but it is also a
/// sign that an earlier, ambiguous attempt with the same message went through; reconciliation
/// reads it that way (publishing.md C, Facebook Page 3).
fn classify_publish(
    call: Call,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> PublishFailure {
    let error = serde_json::from_slice::<ErrorEnvelope>(body).unwrap_or_default().error;
    let message = if error.message.is_empty() {
        format!("Graph answered {status} to {}", call.name())
    } else {
        error.message.clone()
    };
    let detail = format!("{}: Graph {status} code {}: {message}", call.name(), error.code);
    let page_call =
        matches!(call, Call::Feed | Call::PublishedPhoto | Call::UnpublishedPhoto | Call::Video);
    let outcome = match (call, error.code, error.error_subcode) {
        (_, 368, Some(1_390_008)) if page_call => Outcome::RateLimited { reset_at: None },
        (Call::MediaPublish, 9, _) => Outcome::RateLimited { reset_at: None },
        // Published before the container was ready: nothing went live. The caller reads the
        // container's status first, so this is not a PUBLISHED container (publishing.md C.3).
        (Call::MediaPublish, 9007, Some(2_207_027)) => Outcome::Transient { detail },
        // Instagram could not fetch the media: nothing exists yet, and trying again is safe.
        (Call::CreateContainer, 9004, _) | (Call::CreateContainer, _, Some(2_207_052)) => {
            Outcome::Transient { detail }
        }
        (Call::ContainerStatus, 100, Some(33)) => Outcome::Transient { detail },
        _ => match classify(status, headers, body) {
            PlatformError::AuthDead(_) => Outcome::AuthDead { message },
            PlatformError::RateLimited { reset } => Outcome::RateLimited {
                // Graph reports 0 minutes for a use case that is not the throttled one (an
                // app-level code 4 beside a Page's usage): that says nothing about when.
                reset_at: reset
                    .filter(|wait| !wait.is_zero())
                    .and_then(|wait| TimeDelta::from_std(wait).ok())
                    .map(|wait| Utc::now() + wait),
            },
            PlatformError::Transient(_) | PlatformError::Ambiguous(_) if call.irreversible() => {
                Outcome::Ambiguous { detail: format!("{detail} (after the request was sent)") }
            }
            PlatformError::Transient(_) | PlatformError::Ambiguous(_) => {
                Outcome::Transient { detail }
            }
            PlatformError::Permanent(_) => Outcome::Permanent { message },
        },
    };
    let platform_code = match (error.code, error.error_subcode) {
        (0, _) => None,
        (code, Some(subcode)) => Some(format!("{code}/{subcode}")),
        (code, None) => Some(code.to_string()),
    };
    PublishFailure {
        outcome,
        http_status: Some(status.as_u16()),
        platform_code,
        request_id: request_id(headers, error.fbtrace_id.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn body(code: i64, subcode: Option<i64>, transient: bool) -> Vec<u8> {
        let subcode = subcode.map_or_else(|| "null".to_owned(), |subcode| subcode.to_string());
        format!(
            r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"error_subcode":{subcode},"is_transient":{transient},"fbtrace_id":"Atrace"}}}}"#
        )
        .into_bytes()
    }

    fn outcome(call: Call, status: u16, code: i64, subcode: Option<i64>) -> Outcome {
        let status = StatusCode::from_u16(status).unwrap();
        classify_publish(call, status, &HeaderMap::new(), &body(code, subcode, false)).outcome
    }

    const IRREVERSIBLE: [Call; 4] =
        [Call::Feed, Call::PublishedPhoto, Call::Video, Call::MediaPublish];
    const REVERSIBLE: [Call; 4] = [
        Call::UnpublishedPhoto,
        Call::CreateContainer,
        Call::ContainerStatus,
        Call::PublishingLimit,
    ];

    #[test]
    fn after_an_irreversible_call_a_server_error_or_graphs_transient_codes_are_ambiguous() {
        for call in IRREVERSIBLE {
            for (status, code) in [(500, 2), (503, 0), (400, 1), (400, 2), (502, 100)] {
                assert!(
                    matches!(outcome(call, status, code, None), Outcome::Ambiguous { .. }),
                    "{call:?} {status} {code}"
                );
            }
            let html =
                classify_publish(call, StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>");
            assert!(matches!(html.outcome, Outcome::Ambiguous { .. }), "{call:?}");
            assert_eq!(html.platform_code, None);
            let flagged = classify_publish(
                call,
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                &body(100, None, true),
            );
            assert!(matches!(flagged.outcome, Outcome::Ambiguous { .. }), "is_transient {call:?}");
        }
    }

    #[test]
    fn the_same_answers_to_a_call_that_publishes_nothing_are_transient() {
        for call in REVERSIBLE {
            for (status, code) in [(500, 2), (503, 0), (400, 1), (400, 2)] {
                assert!(
                    matches!(outcome(call, status, code, None), Outcome::Transient { .. }),
                    "{call:?} {status} {code}"
                );
            }
        }
    }

    #[test]
    fn dead_tokens_throttles_and_refusals_mean_the_same_on_every_call() {
        for call in IRREVERSIBLE.into_iter().chain(REVERSIBLE) {
            for (code, subcode) in [(190, Some(460)), (190, Some(463)), (190, None), (102, None)] {
                assert!(
                    matches!(outcome(call, 400, code, subcode), Outcome::AuthDead { .. }),
                    "{call:?} {code}"
                );
            }
            for code in [4, 17, 32, 341, 613, 80_001, 80_002] {
                assert!(
                    matches!(outcome(call, 400, code, None), Outcome::RateLimited { .. }),
                    "{call:?} {code}"
                );
            }
            for code in [10, 200, 299, 506, 100] {
                assert!(
                    matches!(outcome(call, 400, code, None), Outcome::Permanent { .. }),
                    "{call:?} {code}"
                );
            }
        }
    }

    #[test]
    fn the_call_decides_graphs_publishing_codes() {
        assert!(matches!(
            outcome(Call::CreateContainer, 400, 9004, Some(2_207_052)),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            outcome(Call::CreateContainer, 400, 100, Some(2_207_052)),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            outcome(Call::CreateContainer, 400, 100, Some(2_207_010)),
            Outcome::Permanent { .. }
        ));
        assert!(matches!(
            outcome(Call::MediaPublish, 400, 9007, Some(2_207_027)),
            Outcome::Transient { .. }
        ));
        assert_eq!(
            outcome(Call::MediaPublish, 400, 9, Some(2_207_042)),
            Outcome::RateLimited { reset_at: None }
        );
        assert_eq!(
            outcome(Call::Feed, 400, 368, Some(1_390_008)),
            Outcome::RateLimited { reset_at: None }
        );
        assert!(matches!(outcome(Call::Feed, 400, 368, None), Outcome::Permanent { .. }));
        assert!(matches!(
            outcome(Call::ContainerStatus, 400, 100, Some(33)),
            Outcome::Transient { .. }
        ));
        assert!(matches!(outcome(Call::Feed, 400, 100, Some(33)), Outcome::Permanent { .. }));
    }

    #[test]
    fn a_throttle_resets_when_graph_says_and_a_zero_estimate_says_nothing() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-business-use-case-usage",
            r#"{"501":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":10}]}"#
                .parse()
                .unwrap(),
        );
        let before = Utc::now();
        let failure =
            classify_publish(Call::Feed, StatusCode::BAD_REQUEST, &headers, &body(32, None, true));
        let Outcome::RateLimited { reset_at: Some(reset_at) } = failure.outcome else {
            panic!("{failure:?}")
        };
        let wait = (reset_at - before).to_std().unwrap();
        assert!(wait >= Duration::from_secs(600) && wait < Duration::from_secs(605), "{wait:?}");

        headers.insert(
            "x-business-use-case-usage",
            r#"{"501":[{"type":"pages","estimated_time_to_regain_access":0}]}"#.parse().unwrap(),
        );
        let failure =
            classify_publish(Call::Feed, StatusCode::BAD_REQUEST, &headers, &body(4, None, true));
        assert_eq!(failure.outcome, Outcome::RateLimited { reset_at: None });
    }

    #[test]
    fn a_failure_keeps_graphs_code_and_request_id() {
        let failure = classify_publish(
            Call::Feed,
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            &body(506, None, false),
        );
        assert_eq!(failure.http_status, Some(400));
        assert_eq!(failure.platform_code.as_deref(), Some("506"));
        assert_eq!(failure.request_id.as_deref(), Some("Atrace"));
        let mut headers = HeaderMap::new();
        headers.insert("x-fb-trace-id", "Hheader".parse().unwrap());
        let failure = classify_publish(
            Call::MediaPublish,
            StatusCode::BAD_REQUEST,
            &headers,
            &body(9007, Some(2_207_027), false),
        );
        assert_eq!(failure.platform_code.as_deref(), Some("9007/2207027"));
        assert_eq!(failure.request_id.as_deref(), Some("Hheader"));
    }
}
