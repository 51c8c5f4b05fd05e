//! Graph's `fields` parameter: `id,name,picture{url},instagram_business_account{id,username}`,
//! modifiers such as `.limit(10)` accepted and ignored, and the selection of those fields from a
//! node, so a caller that forgets to ask for a field does not get it (as with Graph).

use serde_json::{Map, Value};

/// Fields Graph knows on our node types that a node may simply not have (a Page without a linked
/// Instagram account): asked for, they are left out rather than refused.
const KNOWN_BUT_ABSENT: &[&str] = &[
    "instagram_business_account",
    "connected_instagram_account",
    "access_token",
    "about",
    "website",
    "message",
    "attachments",
    "caption",
    "children",
];

/// A parsed `fields` list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields(Vec<(String, Option<Fields>)>);

impl Fields {
    /// Parses `fields`; the error is Graph's message.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut chars = text.chars().peekable();
        let fields = parse_list(&mut chars)?;
        match chars.next() {
            None => Ok(fields),
            Some(extra) => Err(format!(
                "(#100) Syntax error \"Expected end of string instead of \"{extra}\".\" at character {}: {text}",
                text.len()
            )),
        }
    }

    /// Whether `name` is asked for at the top level.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(field, _)| field == name)
    }
}

fn parse_list(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Fields, String> {
    let mut fields = Vec::new();
    loop {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        // Modifiers: `.limit(10)`, `.width(100)`.
        while chars.peek() == Some(&'.') {
            chars.next();
            let mut depth = 0;
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 1 => break,
                    ')' => depth -= 1,
                    _ => {}
                }
            }
        }
        let sub = if chars.peek() == Some(&'{') {
            chars.next();
            let sub = parse_list(chars)?;
            if chars.next() != Some('}') {
                return Err("(#100) Syntax error \"Expected \"}\".\"".to_owned());
            }
            Some(sub)
        } else {
            None
        };
        if name.is_empty() {
            return Err("(#100) Syntax error: a field name is expected".to_owned());
        }
        fields.push((name, sub));
        match chars.peek() {
            Some(',') => {
                chars.next();
            }
            _ => return Ok(Fields(fields)),
        }
    }
}

/// The fields of `node` that were asked for (and its `id`, which Graph always sends); the error
/// is Graph's message for a field the node type does not have.
pub(crate) fn select(node: &Value, fields: &Fields, kind: &str) -> Result<Value, String> {
    let mut out = Map::new();
    if let Some(id) = node.get("id") {
        out.insert("id".to_owned(), id.clone());
    }
    for (name, sub) in &fields.0 {
        let Some(value) = node.get(name) else {
            if KNOWN_BUT_ABSENT.contains(&name.as_str()) {
                continue;
            }
            return Err(format!(
                "(#100) Tried accessing nonexisting field ({name}) on node type ({kind})"
            ));
        };
        let value = match (sub, value) {
            (None, Value::Object(object)) if object.contains_key("id") => {
                // A nested node without subfields gives its id only.
                serde_json::json!({"id": object["id"]})
            }
            (None, value) => value.clone(),
            (Some(sub), value) => select_nested(value, sub, name)?,
        };
        out.insert(name.clone(), value);
    }
    Ok(Value::Object(out))
}

fn select_nested(value: &Value, sub: &Fields, name: &str) -> Result<Value, String> {
    match value {
        // `picture{url}` picks inside the `data` envelope.
        Value::Object(object) if !object.contains_key("id") && object.contains_key("data") => {
            Ok(serde_json::json!({"data": select_nested(&object["data"], sub, name)?}))
        }
        Value::Object(_) => select(value, sub, name),
        Value::Array(items) => items
            .iter()
            .map(|item| select_nested(item, sub, name))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_fields_and_modifiers_parse() {
        let fields = Fields::parse(
            "id,name,picture.width(100){url},instagram_business_account{id,username}",
        )
        .unwrap();
        assert!(fields.contains("picture") && fields.contains("instagram_business_account"));
        assert!(Fields::parse("id,{").is_err());
        assert!(Fields::parse("id}").is_err());
    }

    #[test]
    fn only_what_was_asked_for_comes_back() {
        let page = json!({
            "id": "1", "name": "P", "category": "Bakery",
            "picture": {"data": {"url": "u", "width": 50}},
            "instagram_business_account": {"id": "9", "username": "ig"},
        });
        let picked = select(
            &page,
            &Fields::parse("name,picture{url},instagram_business_account").unwrap(),
            "Page",
        )
        .unwrap();
        assert_eq!(
            picked,
            json!({
                "id": "1",
                "name": "P",
                "picture": { "data": { "url": "u" } },
                "instagram_business_account": { "id": "9" },
            })
        );
        let nested =
            select(&page, &Fields::parse("instagram_business_account{username}").unwrap(), "Page")
                .unwrap();
        assert_eq!(nested["instagram_business_account"], json!({"id": "9", "username": "ig"}));
        let refused = select(&page, &Fields::parse("nonsense").unwrap(), "Page").unwrap_err();
        assert_eq!(
            refused,
            "(#100) Tried accessing nonexisting field (nonsense) on node type (Page)"
        );
        let absent = select(
            &json!({"id": "2"}),
            &Fields::parse("instagram_business_account").unwrap(),
            "Page",
        )
        .unwrap();
        assert_eq!(absent, json!({"id": "2"}));
    }
}
