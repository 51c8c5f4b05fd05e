//! What a token may read: the user, its Pages (`/me/accounts`, paged) and their Instagram
//! accounts, each answering only the fields asked for.

use super::errors::{graph_error, unsupported};
use super::fields::{Fields, select};
use super::login::debug_token;
use super::*;

pub(super) fn route(
    state: &mut MetaState,
    method: &Method,
    path: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    fields: Option<&Fields>,
) -> Response {
    let (object, edge) = match path.split_once('/') {
        Some((object, edge)) => (object, Some(edge)),
        None => (path, None),
    };
    let object = if object == "me" {
        match &info.owner {
            Owner::User => USER_ID.to_owned(),
            Owner::Page(id) => id.clone(),
            Owner::App => state.app_id.clone(),
        }
    } else {
        object.to_owned()
    };
    match (method, object.as_str(), edge) {
        (&Method::GET, "debug_token", None) => debug_token(state, params),
        (&Method::GET, USER_ID, Some("accounts")) if info.owner == Owner::User => {
            accounts(state, params, fields, &info.scopes)
        }
        (&Method::GET, USER_ID, Some("permissions")) if info.owner == Owner::User => {
            let data: Vec<Value> = info
                .scopes
                .iter()
                .map(|scope| json!({"permission": scope, "status": "granted"}))
                .collect();
            Json(json!({ "data": data })).into_response()
        }
        (&Method::DELETE, USER_ID, Some("permissions")) if info.owner == Owner::User => {
            // The app is removed: the user's tokens stop working.
            kill_tokens(state, 458);
            Json(json!({"success": true})).into_response()
        }
        (&Method::GET, id, None) => match readable(state, info, id) {
            Some(node) => read_node(state, &node, fields, &info.scopes),
            None => unsupported(method, id),
        },
        (&Method::GET, id, Some(edge)) if readable(state, info, id).is_some() => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            &format!("(#100) Unknown path components: /{edge}"),
        ),
        (method, id, _) => unsupported(method, id),
    }
}

/// A node the token may read.
#[derive(Debug)]
pub(super) enum Node {
    User,
    Page(FakePage),
    Instagram(FakePage),
}

pub(super) fn readable(state: &MetaState, info: &TokenInfo, id: &str) -> Option<Node> {
    if id == USER_ID && info.owner == Owner::User {
        return Some(Node::User);
    }
    let may_read = |page: &FakePage| match &info.owner {
        Owner::User => true,
        Owner::Page(owner) => *owner == page.id,
        Owner::App => false,
    };
    state.pages.iter().filter(|page| may_read(page)).find_map(|page| {
        if page.id == id {
            Some(Node::Page(page.clone()))
        } else if page.instagram.as_ref().is_some_and(|(ig, _)| ig == id) {
            Some(Node::Instagram(page.clone()))
        } else {
            None
        }
    })
}

pub(super) fn instagram_object(page: &FakePage) -> Option<Value> {
    page.instagram.as_ref().map(|(id, username)| {
        json!({
            "id": id,
            "username": username,
            "name": page.name,
            "profile_picture_url": format!("https://scontent.example/ig/{id}.jpg"),
            "followers_count": 120,
            "media_count": 8,
            "biography": "",
        })
    })
}

/// A Page's fields; a Page token minted here carries the caller's permissions, as a Page token
/// derived from a user token does.
pub(super) fn page_object(
    state: &mut MetaState,
    page: &FakePage,
    with_token: bool,
    scopes: &[String],
) -> Value {
    let mut object = json!({
        "id": page.id,
        "name": page.name,
        "category": "Bakery",
        "category_list": [{"id": "2200", "name": "Bakery"}],
        "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        "link": format!("https://www.facebook.com/{}", page.id),
        "fan_count": 42,
        "picture": {
            "data": {
                "url": format!("https://scontent.example/{}.jpg", page.id),
                "height": 50,
                "width": 50,
                "is_silhouette": false,
            },
        },
    });
    if with_token {
        let token = next_token(state, "EAAPAGE");
        state.tokens.insert(
            token.clone(),
            TokenInfo {
                owner: Owner::Page(page.id.clone()),
                scopes: scopes.to_vec(),
                expires_at: None,
                dead: None,
            },
        );
        object["access_token"] = Value::String(token);
    }
    if let Some(instagram) = instagram_object(page) {
        object["instagram_business_account"] = instagram;
    }
    object
}

pub(super) fn read_node(
    state: &mut MetaState,
    node: &Node,
    fields: Option<&Fields>,
    scopes: &[String],
) -> Response {
    let (full, kind) = match node {
        Node::User => (json!({"id": USER_ID, "name": USER_NAME}), "User"),
        Node::Page(page) => {
            // Minting a Page token only when it is asked for keeps the token list honest.
            let with_token = fields.is_some_and(|fields| fields.contains("access_token"));
            (page_object(state, page, with_token, scopes), "Page")
        }
        Node::Instagram(page) => (instagram_object(page).unwrap_or_default(), "ShadowIGUser"),
    };
    // Without `fields` a node sends its id and name; an Instagram account its id only.
    let default = match node {
        Node::Instagram(_) => Fields::parse("id"),
        Node::User | Node::Page(_) => Fields::parse("id,name"),
    }
    .unwrap_or_default();
    match select(&full, fields.unwrap_or(&default), kind) {
        Ok(selected) => Json(selected).into_response(),
        Err(message) => graph_error(StatusCode::BAD_REQUEST, 100, None, &message),
    }
}

pub(super) fn cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

pub(super) fn offset_of(cursor: &str) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    decoded.strip_prefix("offset:")?.parse().ok()
}

pub(super) fn accounts(
    state: &mut MetaState,
    params: &HashMap<String, String>,
    fields: Option<&Fields>,
    scopes: &[String],
) -> Response {
    // 25 a page unless `limit` says otherwise, never more than the cap.
    let limit: usize = params
        .get("limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(25)
        .clamp(1, state.max_page_size);
    let offset = match params.get("after") {
        Some(after) => match offset_of(after) {
            Some(offset) => offset,
            None => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "(#100) The after cursor is invalid",
                );
            }
        },
        None => 0,
    };
    // Without `fields` the edge sends these (platforms.md 2.1).
    let default =
        Fields::parse("access_token,category,category_list,name,id,tasks").unwrap_or_default();
    let fields = fields.unwrap_or(&default);
    let pages: Vec<FakePage> = state.pages.iter().skip(offset).take(limit).cloned().collect();
    let mut data = Vec::new();
    for page in &pages {
        let full = page_object(state, page, fields.contains("access_token"), scopes);
        match select(&full, fields, "Page") {
            Ok(selected) => data.push(selected),
            Err(message) => return graph_error(StatusCode::BAD_REQUEST, 100, None, &message),
        }
    }
    let end = offset + pages.len();
    let mut body = json!({
        "data": data,
        "paging": { "cursors": { "before": cursor(offset), "after": cursor(end) } },
    });
    if end < state.pages.len() {
        // Graph sends the next page as a full URL on its own host, the query kept.
        let mut next = Url::parse(&format!("{}me/accounts", state.graph_base))
            .unwrap_or_else(|_| unreachable!("the base is a URL"));
        {
            let mut query = next.query_pairs_mut();
            for (key, value) in params {
                if !["after", "access_token", "appsecret_proof", "limit"].contains(&key.as_str()) {
                    query.append_pair(key, value);
                }
            }
            query.append_pair("limit", &limit.to_string()).append_pair("after", &cursor(end));
        }
        body["paging"]["next"] = Value::String(next.into());
    }
    Json(body).into_response()
}
