//! `?limit=&cursor=` for every list (api.md: limit 1..100, default 50).

use postroute_app::Refusal;
use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::problem::{ApiError, FieldError};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 100;

/// The paging parameters as the OpenAPI document describes them; [`ListQuery`] reads them.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query string for the OpenAPI document")]
pub struct PageParams {
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<u32>,
    /// Where to continue: the previous page's `next_cursor`.
    cursor: Option<String>,
}

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
    /// A filter parameter. An empty one (`?status=`) is a value like any other, so a filter
    /// that cannot be empty refuses it rather than quietly filtering nothing.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A filter parameter parsed by `parse`; a value it refuses adds `message` to `problems`.
    pub fn parsed<T>(
        &self,
        name: &str,
        message: &str,
        problems: &mut Vec<FieldError>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let value = self.param(name)?;
        let parsed = parse(value);
        if parsed.is_none() {
            problems.push(FieldError::new(name, message));
        }
        parsed
    }

    /// An RFC 3339 time parameter; a malformed one adds a problem.
    pub fn time(&self, name: &str, problems: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
        self.parsed(
            name,
            "must be an RFC 3339 time such as 2026-11-29T09:00:00Z",
            problems,
            |value| DateTime::parse_from_rfc3339(value).ok().map(|at| at.with_timezone(&Utc)),
        )
    }

    /// The cursor as the list's key (the last id of the previous page); a malformed one is 422.
    pub fn cursor_as<K: FromStr>(&self) -> Result<Option<K>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                cursor.parse().map_err(|_| {
                    ApiError(Refusal::Invalid(vec![FieldError::new(
                        "cursor",
                        "is not a cursor of this list",
                    )]))
                })
            })
            .transpose()
    }

    /// How many rows to fetch for a page: one more than it holds, to learn whether another
    /// page follows.
    pub fn fetch_limit(&self) -> u32 {
        self.limit + 1
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(mut params) =
            Query::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(
                |_| ApiError(Refusal::Malformed("The query string could not be read.".to_owned())),
            )?;
        let limit = match params.remove("limit") {
            None => DEFAULT_LIMIT,
            Some(limit) => {
                limit.parse().ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).ok_or_else(
                    || {
                        ApiError(Refusal::Invalid(vec![FieldError::new(
                            "limit",
                            format!("must be a number from 1 to {MAX_LIMIT}"),
                        )]))
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
    /// A page of rows fetched with [`ListQuery::fetch_limit`]: the extra row only says that
    /// another page follows, whose cursor is the last shown row's key.
    pub fn from_fetched<R>(
        mut rows: Vec<R>,
        query: &ListQuery,
        key: impl Fn(&R) -> String,
        view: impl Fn(R) -> T,
    ) -> Self {
        let limit = query.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more { rows.last().map(key) } else { None };
        Self { items: rows.into_iter().map(view).collect(), next_cursor }
    }

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
                        ApiError(Refusal::Invalid(vec![FieldError::new(
                            "cursor",
                            "is not a cursor of this list",
                        )]))
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
