//! The media library with real files: each accepted type, the metadata phones write, the files
//! attackers send, the size cap, the upload rate, the plan's quota, tenancy, deletion, signed
//! public links, and S3-compatible storage.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::{Path, PathBuf};

use image::ImageDecoder;
use postroute_app::media::MediaStorage;
use postroute_domain::MAX_UPLOAD_BYTES;
use postroute_test_support::corpus::{self, GPS_LATITUDE, PRIVATE_NOTE};
use postroute_test_support::{
    Backend, FormPart, TestApp, TestResponse, TestUser, db_test, s3_url_from_env,
};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

async fn owner_and_workspace(app: &TestApp) -> (TestUser, String) {
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Brand").await;
    (owner, workspace)
}

async fn content(app: &TestApp, user: &TestUser, workspace: &str, id: &str) -> TestResponse {
    app.get_as(&user.access_token, &format!("/v1/workspaces/{workspace}/media/{id}/content"), 200)
        .await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn files_under(directory: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Nothing of a refused upload may remain: no row, no stored object, no scratch file.
async fn assert_nothing_left(app: &TestApp) {
    assert_eq!(app.count("SELECT count(*) FROM media").await, 0, "a media row was left");
    assert_eq!(
        files_under(&app.config.data_dir.join("media")),
        Vec::<PathBuf>::new(),
        "an object was left"
    );
    assert_eq!(
        files_under(&app.config.data_dir.join("tmp")),
        Vec::<PathBuf>::new(),
        "a scratch file was left"
    );
}

/// The same text with its last character changed.
fn flip_last(text: &str) -> String {
    let mut flipped = text.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    flipped
}

fn decoded(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

#[db_test]
// proves S-UPLOAD-1
// proves S-UPLOAD-2
async fn every_accepted_type_is_stored_as_its_bytes_say(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    // (extension, bytes, kind, MIME type, width, height)
    let cases = [
        ("png", corpus::png(64, 48), "image", "image/png", 64, 48),
        ("jpg", corpus::jpeg(64, 48), "image", "image/jpeg", 64, 48),
        ("gif", corpus::gif(40, 30), "image", "image/gif", 40, 30),
        ("webp", corpus::webp(50, 20), "image", "image/webp", 50, 20),
        ("mp4", corpus::video("isom"), "video", "video/mp4", 320, 240),
        ("mov", corpus::video("qt  "), "video", "video/quicktime", 320, 240),
    ];
    let mut ids = Vec::new();
    for (name, bytes, kind, mime, width, height) in &cases {
        // Every upload claims to be photo.jpg of type image/jpeg: the bytes decide.
        let media = app.upload(&owner, &workspace, bytes, 201).await.json();
        assert_eq!(media["kind"], *kind, "{name}");
        assert_eq!(media["mime"], *mime, "{name}");
        assert_eq!(
            (media["width"].as_i64(), media["height"].as_i64()),
            (Some(*width), Some(*height)),
            "{name}"
        );
        let id = media["id"].as_str().unwrap().to_owned();
        let stored = content(&app, &owner, &workspace, &id).await;
        assert_eq!(stored.header("content-type"), Some(*mime), "{name}");
        assert_eq!(stored.header("x-content-type-options"), Some("nosniff"));
        assert!(stored.header("content-security-policy").unwrap().starts_with("sandbox"), "{name}");
        let disposition = stored.header("content-disposition").unwrap();
        assert!(
            disposition.starts_with("attachment;")
                && disposition.contains(&id)
                && !disposition.contains("photo"),
            "{disposition}"
        );
        assert_eq!(media["size_bytes"].as_u64(), Some(stored.body.len() as u64), "{name}");
        assert_eq!(
            media["sha256"].as_str().unwrap(),
            format!("{:x}", Sha256::digest(&stored.body)),
            "{name}"
        );
        if *kind == "video" {
            assert_eq!(media["duration_ms"], 2000, "{name}");
        } else {
            assert_eq!(media["duration_ms"], Value::Null);
        }
        // The stored name is synthesised; the client's name is nowhere.
        let key = format!("{workspace}/{id}.{name}");
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM media WHERE object_key = '{key}'")).await,
            1,
            "{name}"
        );
        assert!(disposition.contains(&format!("{id}.{name}")), "{disposition}");
        ids.push(id);
    }
    assert_eq!(
        files_under(&app.config.data_dir.join("tmp")),
        Vec::<PathBuf>::new(),
        "scratch files are removed"
    );

    // Newest first, paged.
    let first = app
        .get_as(&owner.access_token, &format!("/v1/workspaces/{workspace}/media?limit=4"), 200)
        .await
        .json();
    let listed: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().rev().take(4).map(String::as_str).collect::<Vec<_>>());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_as(
            &owner.access_token,
            &format!("/v1/workspaces/{workspace}/media?limit=4&cursor={cursor}"),
            200,
        )
        .await
        .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert_eq!(second["next_cursor"], Value::Null);
    let one = app
        .get_as(&owner.access_token, &format!("/v1/workspaces/{workspace}/media/{}", ids[0]), 200)
        .await
        .json();
    assert_eq!(one["mime"], "image/png");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'media.uploaded'").await,
        6
    );
}

#[db_test]
// proves S-UPLOAD-1
async fn metadata_is_stripped_and_the_picture_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let originals = [
        ("jpeg", corpus::jpeg_with_gps(64, 48)),
        ("png", corpus::png_with_metadata(64, 48)),
        ("gif", corpus::gif_with_metadata(40, 30)),
        ("webp", corpus::webp_with_metadata(50, 20)),
    ];
    for (name, original) in &originals {
        assert!(
            contains(original, PRIVATE_NOTE.as_bytes()),
            "the {name} test file carries metadata"
        );
        let media = app.upload(&owner, &workspace, original, 201).await.json();
        let stored = content(&app, &owner, &workspace, media["id"].as_str().unwrap()).await.body;
        assert!(!contains(&stored, PRIVATE_NOTE.as_bytes()), "{name}: metadata text survived");
        assert!(!contains(&stored, &GPS_LATITUDE), "{name}: the GPS position survived");
        // Lossless: the same pixels.
        assert_eq!(decoded(&stored), decoded(original), "{name}: the picture changed");
    }

    // A phone photo still displays upright: the orientation alone is kept.
    let media = app.upload(&owner, &workspace, &corpus::jpeg_with_gps(64, 48), 201).await.json();
    let stored = content(&app, &owner, &workspace, media["id"].as_str().unwrap()).await.body;
    let mut decoder = image::ImageReader::new(std::io::Cursor::new(&stored))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(decoder.orientation().unwrap(), image::metadata::Orientation::Rotate90);

    // An animation keeps its frames and its looping.
    let media =
        app.upload(&owner, &workspace, &corpus::gif_with_metadata(40, 30), 201).await.json();
    let stored = content(&app, &owner, &workspace, media["id"].as_str().unwrap()).await.body;
    assert!(contains(&stored, b"NETSCAPE2.0"));
    let frames = image::AnimationDecoder::into_frames(
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&stored)).unwrap(),
    );
    assert_eq!(frames.count(), 2);

    // A video's user data (where phones put the place it was filmed) is blanked in place.
    let original = corpus::video("isom");
    assert!(contains(&original, b"+48.8584"));
    let media = app.upload(&owner, &workspace, &original, 201).await.json();
    let stored = content(&app, &owner, &workspace, media["id"].as_str().unwrap()).await.body;
    assert!(!contains(&stored, b"+48.8584") && !contains(&stored, PRIVATE_NOTE.as_bytes()));
    assert_eq!(stored.len(), original.len(), "blanking moves no byte");
    assert_eq!(media["duration_ms"], 2000);
}

#[db_test]
// proves S-UPLOAD-1
async fn anything_else_is_refused_whatever_the_client_claims(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let mut jpeg_then_zip = corpus::jpeg(16, 16);
    jpeg_then_zip.extend(corpus::zip());
    let mut gif_then_script = corpus::gif(8, 8);
    gif_then_script.extend_from_slice(b"<script>alert(1)</script>");
    let refused = [
        ("svg with a script", corpus::svg_with_script()),
        ("html", corpus::html()),
        ("pdf", corpus::pdf()),
        ("zip", corpus::zip()),
        ("shell script", corpus::shell_script()),
        ("png + php polyglot", corpus::png_php_polyglot()),
        ("jpeg + zip polyglot", jpeg_then_zip),
        ("gif + script polyglot", gif_then_script),
    ];
    for (name, bytes) in &refused {
        for claim in ["image/png", "image/jpeg", "video/mp4"] {
            let part = FormPart {
                name: "file",
                file_name: Some("holiday.png"),
                content_type: claim,
                bytes,
            };
            let problem = app.upload_parts(&owner, &workspace, &[part], 415).await.json();
            assert_eq!(problem["code"], "unsupported_media_type", "{name} as {claim}");
        }
    }
    let polyglot = app.upload(&owner, &workspace, &corpus::png_php_polyglot(), 415).await.json();
    assert!(polyglot["detail"].as_str().unwrap().contains("follow the end"), "{polyglot}");
    assert_nothing_left(&app).await;
}

#[db_test]
// proves S-UPLOAD-1
async fn bombs_and_damaged_files_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    // A PNG claiming 10^5 x 10^5 pixels (40 GB decoded) is refused from its header.
    let bomb =
        app.upload(&owner, &workspace, &corpus::png_claiming(100_000, 100_000), 422).await.json();
    assert_eq!(bomb["errors"][0]["field"], "file");
    assert!(bomb["errors"][0]["message"].as_str().unwrap().contains("100000x100000"), "{bomb}");
    let png = corpus::png(64, 48);
    let jpeg = corpus::jpeg(64, 48);
    let video = corpus::video("isom");
    for (name, damaged) in [
        ("truncated png", corpus::truncated(&png, png.len() / 2)),
        ("truncated jpeg", corpus::truncated(&jpeg, jpeg.len() - 40)),
        ("truncated webp", corpus::truncated(&corpus::webp(20, 20), 30)),
        ("truncated video", corpus::truncated(&video, video.len() / 2)),
        ("empty", Vec::new()),
    ] {
        let problem = app.upload(&owner, &workspace, &damaged, 422).await.json();
        assert_eq!(problem["code"], "validation_failed", "{name}");
    }
    assert_nothing_left(&app).await;
}

#[db_test]
// proves S-UPLOAD-3
async fn fifty_mib_is_the_most_a_file_may_hold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let limit = usize::try_from(MAX_UPLOAD_BYTES).unwrap();
    let problem =
        app.upload(&owner, &workspace, &corpus::video_of_length(limit + 1), 413).await.json();
    assert_eq!(problem["code"], "payload_too_large");
    assert_nothing_left(&app).await;
    let media = app.upload(&owner, &workspace, &corpus::video_of_length(limit), 201).await.json();
    assert_eq!(media["size_bytes"].as_u64(), Some(MAX_UPLOAD_BYTES));
}

#[db_test]
// proves S-UPLOAD-3
async fn a_user_may_upload_thirty_files_in_five_minutes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let admin = app.signed_in_user("admin@example.com").await;
    app.add_member(&workspace, &admin.id, "admin").await;
    let file = corpus::png(8, 8);
    for attempt in 1..=30 {
        let uploaded = app.upload(&owner, &workspace, &file, 201).await;
        assert_eq!(
            uploaded.header("ratelimit-remaining"),
            Some((30 - attempt).to_string().as_str())
        );
    }
    let refused = app.upload(&owner, &workspace, &file, 429).await;
    assert_eq!(refused.json()["code"], "rate_limited");
    assert!(refused.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(refused.header("ratelimit-limit"), Some("30"));
    // The limit follows the person, not the workspace.
    app.upload(&admin, &workspace, &file, 201).await;
    assert_eq!(app.count("SELECT count(*) FROM media").await, 31);
}

#[db_test]
async fn an_upload_is_one_part_named_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let png = corpus::png(8, 8);
    let note =
        FormPart { name: "caption", file_name: None, content_type: "text/plain", bytes: b"hello" };
    let file = FormPart::file(&png);
    for (name, parts) in [
        ("no part", vec![]),
        ("another name", vec![FormPart { name: "upload", ..file.clone() }]),
        ("two files", vec![file.clone(), file.clone()]),
        ("a file and a field", vec![file.clone(), note.clone()]),
        ("a field first", vec![note.clone(), file.clone()]),
    ] {
        let problem = app.upload_parts(&owner, &workspace, &parts, 422).await.json();
        assert_eq!(problem["errors"][0]["field"], "file", "{name}");
    }
    let not_a_form = app
        .send(
            app.request(Method::POST, &format!("/v1/workspaces/{workspace}/media"))
                .bearer_auth(&owner.access_token)
                .header("content-type", "image/png")
                .body(png.clone()),
            415,
        )
        .await;
    assert_eq!(not_a_form.json()["code"], "unsupported_media_type");
    assert_nothing_left(&app).await;
}

#[db_test]
// proves S-TENANT-1
async fn another_workspaces_media_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let media = app.upload(&owner, &workspace, &corpus::png(8, 8), 201).await.json();
    let id = media["id"].as_str().unwrap();
    let stranger = app.signed_in_user("stranger@example.com").await;
    let own = app.workspace(&stranger, "Elsewhere").await;
    for base in [
        format!("/v1/workspaces/{own}/media/{id}"),
        format!("/v1/workspaces/{workspace}/media/{id}"),
    ] {
        for (method, path) in [
            (Method::GET, base.clone()),
            (Method::GET, format!("{base}/content")),
            (Method::POST, format!("{base}/public-link")),
            (Method::DELETE, base.clone()),
        ] {
            let problem = app
                .send(app.request(method, &path).bearer_auth(&stranger.access_token), 404)
                .await
                .json();
            assert_eq!(problem["code"], "not_found", "{path}");
        }
    }
    let listed = app
        .get_as(&stranger.access_token, &format!("/v1/workspaces/{own}/media"), 200)
        .await
        .json();
    assert_eq!(listed["items"], serde_json::json!([]));
    content(&app, &owner, &workspace, id).await;
}

#[db_test]
async fn deleting_media_removes_its_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let storage = MediaStorage::from_config(&app.config).unwrap();
    let media = app.upload(&owner, &workspace, &corpus::jpeg(16, 16), 201).await.json();
    let id = media["id"].as_str().unwrap();
    let key = format!("{workspace}/{id}.jpg");
    assert!(storage.contains(&key).await.unwrap());
    let path = format!("/v1/workspaces/{workspace}/media/{id}");
    app.send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 204).await;
    assert!(!storage.contains(&key).await.unwrap(), "the object outlived its record");
    app.get_as(&owner.access_token, &path, 404).await;
    app.get_as(&owner.access_token, &format!("{path}/content"), 404).await;
    app.send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 404).await;
    assert_eq!(app.count("SELECT count(*) FROM audit_log WHERE action = 'media.deleted'").await, 1);
    assert_nothing_left(&app).await;
}

#[db_test]
async fn media_a_post_still_needs_cannot_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let storage = MediaStorage::from_config(&app.config).unwrap();
    let channel = app.add_channel(&workspace, "poster").await;
    let id = app.upload(&owner, &workspace, &corpus::jpeg(16, 16), 201).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = format!("{workspace}/{id}.jpg");
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let body = serde_json::json!({
        "content": "With a picture",
        "channel_ids": [channel],
        "media_ids": [id],
    });
    let post = app.send_json_as(&owner.access_token, Method::POST, &posts, &body, 201).await.json();
    let post_path = format!("{posts}/{}", post["id"].as_str().unwrap());
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let scheduled = app
        .send_json_as(
            &owner.access_token,
            Method::POST,
            &format!("{post_path}/schedule"),
            &serde_json::json!({"scheduled_at": at}),
            200,
        )
        .await
        .json();
    assert_eq!(scheduled["status"], "scheduled");

    // The scheduled post holds the file: 409, and nothing is lost.
    let path = format!("/v1/workspaces/{workspace}/media/{id}");
    let refused = app
        .send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 409)
        .await
        .json();
    assert_eq!(refused["code"], "conflict");
    assert!(storage.contains(&key).await.unwrap(), "the object is kept");
    app.get_as(&owner.access_token, &format!("{path}/content"), 200).await;
    assert_eq!(
        app.get_as(&owner.access_token, &post_path, 200).await.json()["media_ids"],
        serde_json::json!([id])
    );
    assert_eq!(app.count("SELECT count(*) FROM audit_log WHERE action = 'media.deleted'").await, 0);

    // A draft holds it too, and so does a post that failed (it may be tried again); once the
    // post is on its platforms, they have their copies.
    app.send_json_as(
        &owner.access_token,
        Method::POST,
        &format!("{post_path}/cancel"),
        &serde_json::json!({}),
        200,
    )
    .await;
    app.send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 409).await;
    app.execute_sql("UPDATE posts SET status = 'failed'").await;
    app.send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 409).await;
    app.execute_sql("UPDATE posts SET status = 'published'").await;
    app.send(app.request(Method::DELETE, &path).bearer_auth(&owner.access_token), 204).await;
    assert!(!storage.contains(&key).await.unwrap(), "the object went with its record");
    let published = app.get_as(&owner.access_token, &post_path, 200).await.json();
    assert_eq!(published["status"], "published");
    assert_eq!(published["media_ids"], serde_json::json!([]));
}

#[db_test]
async fn a_range_of_a_file_is_served_for_players_that_seek(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let media = app.upload(&owner, &workspace, &corpus::video("isom"), 201).await.json();
    let id = media["id"].as_str().unwrap();
    let path = format!("/v1/workspaces/{workspace}/media/{id}/content");
    let whole = content(&app, &owner, &workspace, id).await;
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let size = whole.body.len();
    let etag = whole.header("etag").unwrap().to_owned();
    let ranged = |range: String, if_range: Option<String>| {
        let mut request =
            app.request(Method::GET, &path).bearer_auth(&owner.access_token).header("range", range);
        if let Some(tag) = if_range {
            request = request.header("if-range", tag);
        }
        app.fetch(request)
    };

    let first = ranged("bytes=0-9".to_owned(), None).await;
    assert_eq!(first.status, 206);
    assert_eq!(first.body, whole.body[..10]);
    assert_eq!(first.header("content-range"), Some(format!("bytes 0-9/{size}").as_str()));
    assert_eq!(first.header("content-length"), Some("10"));
    let tail = ranged("bytes=-5".to_owned(), None).await;
    assert_eq!(tail.body, whole.body[size - 5..]);
    let rest = ranged("bytes=10-".to_owned(), Some(etag.clone())).await;
    assert_eq!((rest.status, &rest.body[..]), (206, &whole.body[10..]));
    let past_the_end = ranged(format!("bytes=0-{}", size + 100), None).await;
    assert_eq!((past_the_end.status, past_the_end.body.len()), (206, size), "clamped to the file");

    let outside = ranged(format!("bytes={size}-"), None).await;
    assert_eq!(outside.status, 416);
    assert_eq!(outside.header("content-range"), Some(format!("bytes */{size}").as_str()));
    assert_eq!(outside.json()["code"], "range_not_satisfiable");
    // Several ranges, a foreign unit, or a stale If-Range: the whole file.
    for (range, if_range) in
        [("bytes=0-1,4-5", None), ("items=0-1", None), ("bytes=0-9", Some("\"stale\"".to_owned()))]
    {
        let response = ranged(range.to_owned(), if_range).await;
        assert_eq!((response.status, response.body.len()), (200, size), "{range}");
    }
}

#[db_test]
async fn the_plans_storage_quota_is_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    // The free plan holds 1 GiB: fill it to 100 bytes short.
    let filler = app.add_media_row(&workspace).await;
    app.execute_sql(&format!(
        "UPDATE media SET size_bytes = {} WHERE id = {}",
        (1u64 << 30) - 100,
        app.uuid_literal(&filler)
    ))
    .await;
    let problem = app.upload(&owner, &workspace, &corpus::png(32, 32), 402).await.json();
    assert_eq!(problem["code"], "plan_required");
    assert_eq!(app.count("SELECT count(*) FROM media").await, 1);
    assert_eq!(
        files_under(&app.config.data_dir.join("media")),
        Vec::<PathBuf>::new(),
        "a refused file was kept"
    );
    app.set_plan(&workspace, "studio").await;
    app.upload(&owner, &workspace, &corpus::png(32, 32), 201).await;
}

#[db_test]
// proves S-UPLOAD-1
async fn a_signed_link_serves_the_file_without_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let original = corpus::jpeg(16, 16);
    let media = app.upload(&owner, &workspace, &original, 201).await.json();
    let id = media["id"].as_str().unwrap();
    let link = app
        .send(
            app.request(
                Method::POST,
                &format!("/v1/workspaces/{workspace}/media/{id}/public-link"),
            )
            .bearer_auth(&owner.access_token),
            200,
        )
        .await
        .json();
    let url = url::Url::parse(link["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), format!("/v1/public/media/{workspace}/{id}"));
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    let lifetime = expires_at.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((3500..=3600).contains(&lifetime), "an hour by default: {lifetime}");
    let path_and_query = format!("{}?{}", url.path(), url.query().unwrap());
    let fetched = app.get(&path_and_query, 200).await;
    assert_eq!(fetched.header("content-type"), Some("image/jpeg"));
    assert!(fetched.header("content-disposition").unwrap().starts_with("attachment"));
    assert!(fetched.header("content-security-policy").unwrap().starts_with("sandbox"));
    assert_eq!(format!("{:x}", Sha256::digest(&fetched.body)), media["sha256"].as_str().unwrap());

    // Anything but the exact link is unknown.
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let (expires, signature) = (&pairs["expires"], &pairs["signature"]);
    let other = app.upload(&owner, &workspace, &corpus::png(8, 8), 201).await.json();
    let tampered = [
        format!(
            "/v1/public/media/{workspace}/{id}?expires={}&signature={signature}",
            expires.parse::<i64>().unwrap() + 86_400
        ),
        format!(
            "/v1/public/media/{workspace}/{id}?expires={expires}&signature={}",
            flip_last(signature)
        ),
        format!(
            "/v1/public/media/{workspace}/{}?expires={expires}&signature={signature}",
            other["id"].as_str().unwrap()
        ),
        format!("/v1/public/media/{workspace}/{id}?expires={expires}"),
        format!("/v1/public/media/{workspace}/{id}"),
    ];
    for path in tampered {
        assert_eq!(app.get(&path, 404).await.json()["code"], "not_found", "{path}");
    }
    // Nothing else about media is public.
    app.get(&format!("/v1/workspaces/{workspace}/media/{id}/content"), 401).await;
    // Deleting the workspace ends its links at once.
    app.send(
        app.request(Method::DELETE, &format!("/v1/workspaces/{workspace}"))
            .bearer_auth(&owner.access_token),
        204,
    )
    .await;
    app.get(&path_and_query, 404).await;
}

#[db_test]
async fn media_lives_in_an_s3_compatible_bucket_when_configured(backend: Backend) {
    let Some(endpoint) = s3_url_from_env() else {
        return;
    };
    let bucket = format!("postroute-test-{}", uuid::Uuid::now_v7().simple());
    reqwest::Client::new()
        .put(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.storage.backend = postroute_app::config::StorageBackend::S3;
            config.storage.s3_bucket = Some(bucket.clone());
            config.storage.s3_endpoint = Some(url::Url::parse(&endpoint).unwrap());
            config.storage.s3_access_key_id = Some("testing".to_owned());
            config.storage.s3_secret_access_key =
                Some(secrecy::SecretString::from("testing".to_owned()));
        })
        .spawn()
        .await;
    let storage = MediaStorage::from_config(&app.config).unwrap();
    let (owner, workspace) = owner_and_workspace(&app).await;
    let original = corpus::jpeg_with_gps(64, 48);
    let media = app.upload(&owner, &workspace, &original, 201).await.json();
    let id = media["id"].as_str().unwrap();
    let key = format!("{workspace}/{id}.jpg");
    assert!(storage.contains(&key).await.unwrap(), "the object is in the bucket");
    assert!(files_under(&app.config.data_dir.join("media")).is_empty(), "nothing on local disk");
    let stored = content(&app, &owner, &workspace, id).await.body;
    assert!(!contains(&stored, PRIVATE_NOTE.as_bytes()));
    assert_eq!(decoded(&stored), decoded(&original));
    // A 50 MiB video goes up in parts.
    let large = corpus::video_of_length(usize::try_from(MAX_UPLOAD_BYTES).unwrap());
    let video = app.upload(&owner, &workspace, &large, 201).await.json();
    let video_stored = content(&app, &owner, &workspace, video["id"].as_str().unwrap()).await.body;
    assert_eq!(video_stored.len(), large.len());
    app.send(
        app.request(Method::DELETE, &format!("/v1/workspaces/{workspace}/media/{id}"))
            .bearer_auth(&owner.access_token),
        204,
    )
    .await;
    assert!(!storage.contains(&key).await.unwrap(), "deleted from the bucket");
    // Leave nothing behind on the shared server.
    app.send(
        app.request(
            Method::DELETE,
            &format!("/v1/workspaces/{workspace}/media/{}", video["id"].as_str().unwrap()),
        )
        .bearer_auth(&owner.access_token),
        204,
    )
    .await;
    reqwest::Client::new()
        .delete(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
}

#[db_test]
async fn a_record_whose_bytes_are_missing_is_a_server_fault(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace) = owner_and_workspace(&app).await;
    let orphan = app.add_media_row(&workspace).await;
    let problem = app
        .get_as(
            &owner.access_token,
            &format!("/v1/workspaces/{workspace}/media/{orphan}/content"),
            500,
        )
        .await
        .json();
    assert_eq!(problem["code"], "internal_error");
    assert!(!problem.to_string().contains(&orphan), "no internal path in the answer: {problem}");
}
