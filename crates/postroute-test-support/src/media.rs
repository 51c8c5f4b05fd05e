//! Uploading to the media library the way a browser's form does.

use reqwest::Method;

use crate::{TestApp, TestResponse, TestUser};

/// One part of a multipart/form-data body.
#[derive(Debug, Clone)]
pub struct FormPart<'a> {
    /// The field name.
    pub name: &'a str,
    /// The file name the client claims.
    pub file_name: Option<&'a str>,
    /// The Content-Type the client claims.
    pub content_type: &'a str,
    /// The bytes.
    pub bytes: &'a [u8],
}

impl<'a> FormPart<'a> {
    /// The `file` part, claiming to be `photo.jpg` of type image/jpeg whatever it holds.
    pub fn file(bytes: &'a [u8]) -> Self {
        Self { name: "file", file_name: Some("photo.jpg"), content_type: "image/jpeg", bytes }
    }
}

/// The Content-Type header and body of a multipart/form-data request.
pub fn multipart_body(parts: &[FormPart<'_>]) -> (String, Vec<u8>) {
    let boundary = format!("postroute-test-{}", uuid::Uuid::now_v7().simple());
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match part.file_name {
            Some(file_name) => {
                format!("form-data; name=\"{}\"; filename=\"{file_name}\"", part.name)
            }
            None => format!("form-data; name=\"{}\"", part.name),
        };
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        body.extend_from_slice(format!("Content-Type: {}\r\n\r\n", part.content_type).as_bytes());
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// Uploads `parts` to `workspace`'s library as `user`.
    pub async fn upload_parts(
        &self,
        user: &TestUser,
        workspace: &str,
        parts: &[FormPart<'_>],
        expected_status: u16,
    ) -> TestResponse {
        let (content_type, body) = multipart_body(parts);
        self.send(
            self.request(Method::POST, &format!("/v1/workspaces/{workspace}/media"))
                .bearer_auth(&user.access_token)
                .header("content-type", content_type)
                .body(body),
            expected_status,
        )
        .await
    }

    /// Uploads one file as `user`.
    pub async fn upload(
        &self,
        user: &TestUser,
        workspace: &str,
        bytes: &[u8],
        expected_status: u16,
    ) -> TestResponse {
        self.upload_parts(user, workspace, &[FormPart::file(bytes)], expected_status).await
    }

    /// A media row without an upload (for tests about who may do what to it).
    pub async fn add_media_row(&self, workspace_id: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        self.execute_sql(&format!(
            "INSERT INTO media (workspace_id, id, kind, mime, size_bytes, width, height, sha256, object_key, created_at) \
             VALUES ({}, {}, 'image', 'image/png', 10, 1, 1, 'none', '{workspace_id}/{id}.png', '2026-01-01T00:00:00+00:00')",
            self.uuid_literal(workspace_id),
            self.uuid_literal(&id),
        ))
        .await;
        id
    }
}
