//! A channel's weekly posting slots and "add to queue" through the API (issue 13, point 6):
//! slots are wall-clock times in the workspace's zone, and the queue gives each slot time to
//! one post.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use chrono::{DateTime, Datelike, Duration, Offset, Timelike, Utc, Weekday};
use postroute_test_support::{Backend, TestApp, TestUser, db_test};
use reqwest::Method;
use serde_json::{Value, json};

struct Team {
    owner: TestUser,
    member: TestUser,
    workspace: String,
    channel: String,
}

/// A workspace in London with an owner, a member and one X channel.
async fn team(app: &TestApp) -> Team {
    let owner = app.signed_in_user("owner@example.com").await;
    let member = app.signed_in_user("member@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    // The audit log, which shows the slots' changes, comes with a paid plan.
    app.set_plan(&workspace, "studio").await;
    app.add_member(&workspace, &member.id, "member").await;
    app.json_as(
        &owner,
        Method::PATCH,
        &format!("/v1/workspaces/{workspace}"),
        json!({ "timezone": "Europe/London" }),
        200,
    )
    .await;
    let channel = app.add_channel(&workspace, "x-1").await;
    Team { owner, member, workspace, channel }
}

impl Team {
    fn slots(&self) -> String {
        format!("/v1/workspaces/{}/channels/{}/slots", self.workspace, self.channel)
    }

    fn posts(&self) -> String {
        format!("/v1/workspaces/{}/posts", self.workspace)
    }
}

#[db_test]
async fn slots_are_kept_in_order_once_each_and_only_owners_and_admins_set_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = team(&app).await;
    let empty = app.json_as(&team.member, Method::GET, &team.slots(), Value::Null, 200).await;
    assert_eq!(empty, json!({ "timezone": "Europe/London", "slots": [] }));

    let wanted = json!({ "slots": [
        { "weekday": "wed", "time": "17:00" },
        { "weekday": "mon", "time": "09:30" },
        { "weekday": "mon", "time": "09:30" },
    ]});
    let refused = app.json_as(&team.member, Method::PUT, &team.slots(), wanted.clone(), 403).await;
    assert_eq!(refused["code"], "forbidden");
    let kept = app.json_as(&team.owner, Method::PUT, &team.slots(), wanted, 200).await;
    let expected = json!({ "timezone": "Europe/London", "slots": [
        { "weekday": "mon", "time": "09:30" },
        { "weekday": "wed", "time": "17:00" },
    ]});
    assert_eq!(kept, expected);
    assert_eq!(
        app.json_as(&team.member, Method::GET, &team.slots(), Value::Null, 200).await,
        expected
    );

    let invalid = json!({ "slots": [
        { "weekday": "monday", "time": "09:30" },
        { "weekday": "tue", "time": "24:00" },
    ]});
    let problem = app.json_as(&team.owner, Method::PUT, &team.slots(), invalid, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["slots[0]", "slots[1]"], "{problem}");
    assert_eq!(
        app.json_as(&team.member, Method::GET, &team.slots(), Value::Null, 200).await,
        expected,
        "a refused change keeps what was there"
    );

    let audit = app
        .json_as(
            &team.owner,
            Method::GET,
            &format!("/v1/workspaces/{}/audit-log?action=channel.slots_changed", team.workspace),
            Value::Null,
            200,
        )
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    let unknown =
        format!("/v1/workspaces/{}/channels/{}/slots", team.workspace, uuid::Uuid::now_v7());
    app.json_as(&team.member, Method::GET, &unknown, Value::Null, 404).await;
}

/// `at` on London's clock.
fn in_london(at: &Value) -> DateTime<chrono_tz::Tz> {
    let at: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
    at.with_timezone(&chrono_tz::Europe::London)
}

#[db_test]
async fn the_queue_gives_each_slot_time_to_one_post_on_the_workspace_clock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = team(&app).await;
    let draft = json!({ "content": "Queued", "channel_ids": [team.channel] });

    let first = app.json_as(&team.member, Method::POST, &team.posts(), draft.clone(), 201).await;
    let queue = |post: &Value| format!("{}/{}/queue", team.posts(), post["id"].as_str().unwrap());
    let problem = app.json_as(&team.member, Method::POST, &queue(&first), Value::Null, 422).await;
    assert_eq!(problem["code"], "no_slots", "{problem}");
    assert_eq!(
        app.json_as(
            &team.member,
            Method::GET,
            &format!("{}/{}", team.posts(), first["id"].as_str().unwrap()),
            Value::Null,
            200
        )
        .await["status"],
        "draft",
        "nothing changed"
    );

    let slots = json!({ "slots": [{ "weekday": "mon", "time": "09:30" }] });
    app.json_as(&team.owner, Method::PUT, &team.slots(), slots, 200).await;
    let queued = app.json_as(&team.member, Method::POST, &queue(&first), Value::Null, 200).await;
    assert_eq!(queued["status"], "scheduled", "{queued}");
    assert_eq!(queued["timezone"], "Europe/London");
    let local = in_london(&queued["scheduled_at"]);
    assert_eq!((local.weekday(), local.hour(), local.minute()), (Weekday::Mon, 9, 30));
    let at: DateTime<Utc> = queued["scheduled_at"].as_str().unwrap().parse().unwrap();
    assert!(at > Utc::now() && at <= Utc::now() + Duration::days(7), "the next Monday: {at}");
    let shown: DateTime<chrono::FixedOffset> =
        DateTime::parse_from_rfc3339(queued["scheduled_at_local"].as_str().unwrap()).unwrap();
    assert_eq!(shown, at, "the same instant on the workspace's clock");
    assert_eq!(shown.offset().local_minus_utc(), local.offset().fix().local_minus_utc());

    // The next post takes the next Monday: that slot time is given away.
    let second = app.json_as(&team.member, Method::POST, &team.posts(), draft, 201).await;
    let next = app.json_as(&team.member, Method::POST, &queue(&second), Value::Null, 200).await;
    let next_at: DateTime<Utc> = next["scheduled_at"].as_str().unwrap().parse().unwrap();
    let next_local = in_london(&next["scheduled_at"]);
    assert_eq!(
        (next_local.weekday(), next_local.hour(), next_local.minute()),
        (Weekday::Mon, 9, 30)
    );
    assert!(next_at > at, "{next_at} after {at}");
    assert!(next_at - at <= Duration::days(7) + Duration::hours(1));
}
