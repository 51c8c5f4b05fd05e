//! What a request brings besides its parameters: the files of a multipart body (facebook-business
//! sends `source` and `video_file_chunk` as files), and the media Graph fetches itself from a URL
//! the request names.

use super::*;

/// What a request uploaded: multipart files by name, and what the fake fetched from a URL the
/// request named (Graph fetches `url`, `image_url`, `video_url` itself).
#[derive(Debug, Default)]
pub(super) struct Upload {
    pub files: HashMap<String, Bytes>,
    pub fetched: Option<Result<Bytes, String>>,
}

/// A multipart body's text fields as parameters and its files by name (facebook-business
/// sends `source` and `video_file_chunk` as files).
pub(super) async fn multipart(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(HashMap<String, String>, HashMap<String, Bytes>), String> {
    let mut request = Request::new(Body::from(body));
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request.headers_mut().insert(header::CONTENT_TYPE, content_type.clone());
    }
    let mut form =
        Multipart::from_request(request, &()).await.map_err(|error| error.body_text())?;
    let (mut params, mut files) = (HashMap::new(), HashMap::new());
    while let Some(field) = form.next_field().await.map_err(|error| error.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let bytes = field.bytes().await.map_err(|error| error.body_text())?;
        if is_file {
            files.insert(name, bytes);
        } else {
            params.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok((params, files))
}

/// Graph fetches the media a publishing call names by URL (`image_url`, `video_url` for
/// Instagram containers, `url` for Page photos, `file_url` for videos), and refuses one it
/// cannot fetch; so does the fake, before it takes the lock.
pub(super) async fn fetch_named_media(
    method: &Method,
    path: &str,
    params: &HashMap<String, String>,
) -> Option<Result<Bytes, String>> {
    if method != Method::POST {
        return None;
    }
    let edge = path.rsplit_once('/').map(|(_, edge)| edge)?;
    let url = match edge {
        "media" => params.get("image_url").or_else(|| params.get("video_url")),
        "photos" => params.get("url"),
        "videos" => params.get("file_url"),
        _ => None,
    }?;
    // A test's PostRoute on this machine serves its links with a self-signed certificate;
    // anything else must be trusted as Meta would trust it.
    let loopback = url::Url::parse(url).ok().is_some_and(|parsed| {
        matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    });
    let fetched = async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(loopback)
            .build()
            .map_err(|error| error.to_string())?;
        let response = client.get(url).send().await.map_err(|error| error.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the media URL answered {}", response.status()));
        }
        response.bytes().await.map_err(|error| error.to_string())
    };
    Some(fetched.await)
}
