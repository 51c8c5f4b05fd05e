//! Named schemas for the values whose rules live in the domain: the enums and the checked
//! strings. Each is built from the domain's own constants, so the document cannot drift from
//! what the server accepts; request and response fields name them with
//! `#[schema(value_type = ...)]`.

use std::borrow::Cow;

use postroute_domain as domain;
use postroute_domain::email::MAX_EMAIL_LENGTH;
use postroute_domain::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use postroute_domain::post::{MAX_CONTENT_CHARS, MAX_REASON_CHARS};
use postroute_domain::workspace::{MAX_WORKSPACE_NAME_CHARS, timezone_names};
use utoipa::ToResponse;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder, Schema};

/// Control characters (Unicode category Cc), which no name or text may hold.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";
/// Control characters other than tab, line feed and carriage return, which post text may hold.
const CONTROL_BUT_LINE_BREAKS: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f";
/// Characters that reorder text around them: a name must not disguise itself.
const TEXT_DIRECTION: &str = r"\u202a-\u202e\u2066-\u2069";

/// Declares a named schema: `$name` is the component the document refers to.
macro_rules! named_schema {
    ($name:ident, $doc:literal, $schema:expr $(,)?) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

fn names(values: impl IntoIterator<Item = &'static str>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
}

fn text(max_chars: usize, pattern: String, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max_chars))
        .pattern(Some(pattern))
        .description(Some(description))
}

/// Free text that is not blank once trimmed and holds none of `forbidden`.
fn not_blank(forbidden: &str) -> String {
    format!(r"^[^{forbidden}]*[^\s{forbidden}][^{forbidden}]*$")
}

named_schema!(
    Role,
    "A member's role.",
    names(
        domain::Role::ALL.map(domain::Role::as_str),
        "A member's role; exactly one member is the owner."
    )
);

named_schema!(
    AssignableRole,
    "A role that can be granted: ownership moves only by transfer.",
    names(
        domain::Role::ALL
            .into_iter()
            .filter(|role| *role != domain::Role::Owner)
            .map(domain::Role::as_str),
        "A role that can be granted. Ownership moves only by transfer-ownership.",
    )
);

named_schema!(
    StatusReason,
    "Why a post is where it is.",
    names(
        domain::StatusReason::ALL.map(domain::StatusReason::as_str),
        "`rejected`: a reviewer sent it back; `approval_expired`: its time came while it was \
         still in review, so it returned to draft.",
    )
);

named_schema!(
    ErrorClass,
    "Why a target's last attempt did not publish.",
    names(
        domain::publish::ErrorClass::ALL.map(domain::publish::ErrorClass::as_str),
        "`rate_limited`: the platform asked to wait; `auth_dead`: the channel must be connected \
         again; `permanent`: the platform refused the post; `transient`: nothing was created, a \
         retry is safe; `ambiguous`: the platform may have created it, so it is checked, never \
         sent again blindly.",
    )
);

named_schema!(
    Weekday,
    "A day of the week.",
    names(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "A day of the week, Monday first.")
);

named_schema!(
    Provider,
    "A social platform.",
    names(domain::Provider::ALL.map(domain::Provider::as_str), "A social platform.")
);

named_schema!(
    ChannelStatus,
    "Whether a channel can publish.",
    names(
        domain::ChannelStatus::ALL.map(domain::ChannelStatus::as_str),
        "`active`; `needs_reconnect` when the platform refused our tokens for good; \
         `disconnected` by a member.",
    )
);

named_schema!(
    PostStatus,
    "Where a post is in its life.",
    names(domain::PostStatus::ALL.map(domain::PostStatus::as_str), "Where a post is in its life.")
);

named_schema!(
    TargetStatus,
    "How publishing to one channel went.",
    names(
        domain::TargetStatus::ALL.map(domain::TargetStatus::as_str),
        "How publishing to one channel went. `unknown`: the outcome could not be confirmed (never \
         retried blindly); `missed`: it came due too late to publish without a person.",
    )
);

named_schema!(
    Plan,
    "A workspace's plan.",
    names(domain::Plan::ALL.map(domain::Plan::as_str), "A workspace's plan.")
);

named_schema!(
    MediaKind,
    "A media file's kind.",
    names(domain::MediaKind::ALL.map(domain::MediaKind::as_str), "A media file's kind.")
);

named_schema!(
    Severity,
    "A system event's severity.",
    names(domain::Severity::ALL.map(domain::Severity::as_str), "A system event's severity.")
);

named_schema!(
    Timezone,
    "An IANA time zone.",
    names(
        timezone_names(),
        "An IANA time zone name such as `Europe/London`, spelt as the time zone database \
         spells it (case matters).",
    )
);

named_schema!(
    EmailAddress,
    "An email address as registration accepts it.",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(MAX_EMAIL_LENGTH))
        .description(Some(
            "An address `local@domain.tld` in printable ASCII (internationalised addresses are \
             refused), at most 254 characters with a local part of at most 64; surrounding \
             spaces are trimmed and case does not tell two accounts apart.",
        ))
);

named_schema!(
    NewPassword,
    "A new password.",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(MIN_PASSWORD_CHARS))
        .max_length(Some(MAX_PASSWORD_CHARS))
        .description(Some(format!(
            "{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, counted after Unicode NFKC \
             normalisation; not a commonly used password, not one character repeated, not the \
             account's email address (422 `validation_failed` otherwise)."
        )))
);

named_schema!(
    DisplayName,
    "A person's display name.",
    text(
        100,
        not_blank(&format!("{CONTROL}{TEXT_DIRECTION}")),
        "1 to 100 characters once trimmed; no control or text-direction characters.",
    )
);

named_schema!(
    WorkspaceName,
    "A workspace's name.",
    text(
        MAX_WORKSPACE_NAME_CHARS,
        not_blank(CONTROL),
        "1 to 100 characters once trimmed; no control characters.",
    )
);

named_schema!(
    RejectionReason,
    "Why a reviewer sends a post back.",
    text(
        MAX_REASON_CHARS,
        not_blank(CONTROL_BUT_LINE_BREAKS),
        "What to change: 1 to 2,000 characters once trimmed; no control characters but tab and \
         line breaks.",
    )
);

named_schema!(
    PostContent,
    "A post's text.",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_CONTENT_CHARS))
        .pattern(Some(format!("^[^{CONTROL_BUT_LINE_BREAKS}]*$")))
        .description(Some(format!(
            "At most {MAX_CONTENT_CHARS} characters; no control characters but tab and line \
             breaks. Each platform's own limits are checked when the post is submitted or \
             scheduled."
        )))
);

named_schema!(
    AuditAction,
    "What an audit log entry records.",
    names(
        domain::AuditAction::ALL.map(domain::AuditAction::as_str),
        "What an audit log entry records.",
    )
);

/// A media file's bytes, served with the type sniffed at upload.
fn media_bytes(description: &str) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description);
    for media_type in domain::MediaType::ALL {
        let bytes =
            ObjectBuilder::new().schema_type(Type::String).content_media_type(media_type.mime());
        response =
            response.content(media_type.mime(), ContentBuilder::new().schema(Some(bytes)).build());
    }
    response.into()
}

/// The whole file.
#[derive(Debug)]
pub struct MediaFile;

impl<'r> ToResponse<'r> for MediaFile {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "MediaFile",
            media_bytes(
                "The bytes, as an attachment (`Content-Disposition`), with the type sniffed at \
                 upload, `Accept-Ranges: bytes` and the file's `ETag`.",
            ),
        )
    }
}

/// One byte range of a file.
#[derive(Debug)]
pub struct MediaRange;

impl<'r> ToResponse<'r> for MediaRange {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "MediaRange",
            media_bytes(
                "The one range asked for with `Range: bytes=…` (a video player seeking), with \
                 `Content-Range`.",
            ),
        )
    }
}

named_schema!(
    ETag,
    "A post's version as its `ETag`, for `If-Match`.",
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(r#"^(\*|"[0-9]+")$"#)).description(
        Some("The post's `ETag` as a response sent it, such as `\"3\"`; `*` matches any version.",)
    )
);

named_schema!(
    VersionETag,
    "The one version an approval, a rejection or an edit is based on: `*` names none, so it \
     is refused there (428) like a missing `If-Match`.",
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(r#"^"[0-9]+"$"#)).description(
        Some(
            "The post's `ETag` as a response sent it, such as `\"3\"`: the version the \
             reviewer read or the editor changed.",
        )
    )
);

/// The `If-Match` header of the writes that require it (approve, reject, edit): the text is
/// written once, here.
pub(crate) const IF_MATCH_REQUIRED: &str = "Required: the post's ETag as last seen; the request \
     applies only if the post is still at that version (412 `precondition_failed` otherwise), \
     and without it is refused (428 `precondition_required`), so that nobody approves, rejects \
     or overwrites a text they have not read";

/// The `If-Match` header of the writes that take it when given.
pub(crate) const IF_MATCH_OPTIONAL: &str = "The post's ETag as last seen: the request applies \
     only if the post is still at that version (412 `precondition_failed` otherwise)";
