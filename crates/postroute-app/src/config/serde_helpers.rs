//! Serde adapters for configuration values that arrive as environment strings.

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;

use secrecy::SecretString;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

const REDACTED: &str = "[redacted]";

/// Accepts a list or one comma-separated string (`a,b`), as environment variables give it.
pub(super) fn comma_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    let items = match ListOrString::deserialize(deserializer)? {
        ListOrString::List(items) => items,
        ListOrString::String(joined) => joined.split(',').map(str::to_owned).collect(),
    };
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| item.parse().map_err(|error| D::Error::custom(format!("`{item}`: {error}"))))
        .collect()
}

/// A comma list of secrets.
pub(super) fn secret_comma_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SecretString>, D::Error> {
    let items: Vec<String> = comma_list(deserializer)?;
    Ok(items.into_iter().map(SecretString::from).collect())
}

/// A socket address, or `none` to switch the listener off.
pub(super) mod optional_listen {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let value = String::deserialize(deserializer)?;
        match value.trim() {
            "" | "none" | "off" => Ok(None),
            address => address.parse().map(Some).map_err(|error| {
                D::Error::custom(format!(
                    "`{address}` is not an address like 127.0.0.1:8443: {error}"
                ))
            }),
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<SocketAddr>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(address) => serializer.collect_str(address),
            None => serializer.serialize_str("none"),
        }
    }
}

/// Writes a present secret as `[redacted]`.
pub(super) fn redact<S: Serializer>(
    value: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

/// Writes each secret of a list as `[redacted]`.
pub(super) fn redact_list<S: Serializer>(
    value: &[SecretString],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut sequence = serializer.serialize_seq(Some(value.len()))?;
    for _ in value {
        sequence.serialize_element(REDACTED)?;
    }
    sequence.end()
}

/// Writes a database URL with its password, if any, redacted.
pub(super) fn redact_url_password<S: Serializer>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(url) => serializer.serialize_str(&without_password(url)),
        None => serializer.serialize_none(),
    }
}

/// Writes a secret URL (Redis) with its password, if any, redacted.
pub(super) fn redact_optional_secret_url<S: Serializer>(
    value: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match value {
        Some(url) => serializer.serialize_str(&without_password(url.expose_secret())),
        None => serializer.serialize_none(),
    }
}

pub(super) fn without_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot carry credentials, which this one just did.
            let _ = url.set_password(Some(REDACTED));
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        // An unparsable URL may still hold a password; show none of it.
        Err(_) => REDACTED.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            without_password("postgres://app:hunter2@db:5432/postroute"),
            "postgres://app:%5Bredacted%5D@db:5432/postroute"
        );
        assert_eq!(without_password("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
