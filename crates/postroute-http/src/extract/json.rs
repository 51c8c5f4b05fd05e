//! The JSON body extractor: malformed bodies are 400, wrong fields 422 with the field's path,
//! a wrong content type 415 and an over-size body 413, all as problem+json (S-EDGE-5).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use postroute_app::Refusal;
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};

/// A request body parsed as JSON into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError(Refusal::UnsupportedMediaType(
                "Expected a body with Content-Type: application/json.".to_owned(),
            )));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(from_bytes_rejection)?;
        parse(&bytes).map(JsonBody)
    }
}

fn is_json_content_type(value: Option<&header::HeaderValue>) -> bool {
    let Some(mime) = value.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn from_bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(Refusal::PayloadTooLarge)
    } else {
        ApiError(Refusal::Malformed("The request body could not be read.".to_owned()))
    }
}

/// Parses `bytes`, telling syntax errors (400) from wrong fields (422).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError(Refusal::Invalid(vec![FieldError::new(field, data_error_message(&inner))]))
            }
            _ => ApiError(Refusal::Malformed(format!(
                "The request body is not valid JSON: {inner}."
            ))),
        }
    })?;
    deserializer.end().map_err(|_| {
        ApiError(Refusal::Malformed("Unexpected data after the JSON value.".to_owned()))
    })?;
    Ok(value)
}

/// serde_json appends " at line L column C", which means nothing once a field path is given.
fn data_error_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialised")]
    struct Login {
        email: String,
        attempts: u8,
    }

    fn validation_fields(error: ApiError) -> Vec<FieldError> {
        match error {
            ApiError(Refusal::Invalid(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_malformed_requests() {
        for body in
            [&b"{"[..], b"{\"email\":", b"not json", b"", br#"{"email":"a","attempts":1} {}"#]
        {
            assert!(
                matches!(parse::<Login>(body), Err(ApiError(Refusal::Malformed(_)))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn wrong_fields_name_their_path() {
        let errors = validation_fields(
            parse::<Login>(br#"{"email":"a@b.c","attempts":"many"}"#).unwrap_err(),
        );
        assert_eq!(errors[0].field, "attempts");
        assert!(errors[0].message.starts_with("invalid type"), "{}", errors[0].message);

        let errors = validation_fields(parse::<Login>(br#"{"attempts":1}"#).unwrap_err());
        assert_eq!(errors[0].field, "body");
        assert!(errors[0].message.contains("missing field `email`"));

        let errors = validation_fields(
            parse::<Login>(br#"{"email":"x","attempts":1,"admin":true}"#).unwrap_err(),
        );
        assert!(errors[0].message.contains("unknown field `admin`"));
    }

    #[test]
    fn json_content_types_are_recognised() {
        let accepts = |value: &str| {
            is_json_content_type(Some(&header::HeaderValue::from_str(value).unwrap()))
        };
        assert!(accepts("application/json"));
        assert!(accepts("Application/JSON; charset=utf-8"));
        assert!(accepts("application/merge-patch+json"));
        assert!(!accepts("text/plain"));
        assert!(!accepts("application/jsonx"));
        assert!(!is_json_content_type(None));
    }
}
