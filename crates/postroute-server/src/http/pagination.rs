//! `?limit=&cursor=` for every list (api.md: limit 1..100, default 50).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::{ApiError, FieldError};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 100;

/// The query string of a list request, with its paging parameters checked.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page size.
    pub limit: u32,
    /// Where to continue, as the previous page said.
    pub cursor: Option<String>,
    /// Every other parameter, for filters.
    pub params: HashMap<String, String>,
}

impl ListQuery {
    /// A filter parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(mut params) =
            Query::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(
                |_| ApiError::MalformedBody("The query string could not be read.".to_owned()),
            )?;
        let limit = match params.remove("limit") {
            None => DEFAULT_LIMIT,
            Some(limit) => {
                limit.parse().ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).ok_or_else(
                    || {
                        ApiError::Validation(vec![FieldError::new(
                            "limit",
                            format!("must be a number from 1 to {MAX_LIMIT}"),
                        )])
                    },
                )?
            }
        };
        let cursor = params.remove("cursor").filter(|cursor| !cursor.is_empty());
        Ok(Self { limit, cursor, params })
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// Pages through a list the service returned whole (small, bounded lists: a user's
    /// workspaces, a workspace's members and invitations). The cursor is the last item's key.
    pub fn of(
        items: Vec<T>,
        query: &ListQuery,
        key: impl Fn(&T) -> String,
    ) -> Result<Self, ApiError> {
        let start = match &query.cursor {
            None => 0,
            Some(cursor) => {
                items.iter().position(|item| key(item) == *cursor).map(|at| at + 1).ok_or_else(
                    || {
                        ApiError::Validation(vec![FieldError::new(
                            "cursor",
                            "is not a cursor of this list",
                        )])
                    },
                )?
            }
        };
        let limit = query.limit as usize;
        let mut page: Vec<T> = items.into_iter().skip(start).take(limit + 1).collect();
        let next_cursor = if page.len() > limit {
            page.truncate(limit);
            page.last().map(&key)
        } else {
            None
        };
        Ok(Self { items: page, next_cursor })
    }
}
