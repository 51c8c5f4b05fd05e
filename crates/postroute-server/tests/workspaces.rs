//! Workspaces, invitations, members, transfer and the audit log through the API.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_test_support::{Backend, PASSWORD, TestApp, TestUser, db_test, token_in};
use reqwest::Method;
use serde_json::{Value, json};

/// Invites `email` as `role` and returns the token from the invitation email.
async fn invite(
    app: &TestApp,
    owner: &TestUser,
    workspace: &str,
    email: &str,
    role: &str,
) -> String {
    app.json_as(
        owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/invitations"),
        json!({"email": email, "role": role}),
        201,
    )
    .await;
    token_in(&app.email_to(email, "invited you to").await)
}

#[db_test]
async fn a_workspace_is_created_listed_changed_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("owner@example.com").await;
    let created = app
        .json_as(&owner, Method::POST, "/v1/workspaces", json!({"name": "  Acme Social  "}), 201)
        .await;
    assert_eq!(created["name"], "Acme Social");
    assert_eq!(created["timezone"], "UTC");
    assert_eq!(created["plan"], "free");
    assert_eq!(created["role"], "owner");
    assert_eq!(created["approval_required"], false);
    assert_eq!(created["entitlements"]["audit_log"], false);
    let id = created["id"].as_str().unwrap();

    let list = app.json_as(&owner, Method::GET, "/v1/workspaces", Value::Null, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_cursor"], Value::Null);

    let bad = app
        .json_as(
            &owner,
            Method::PATCH,
            &format!("/v1/workspaces/{id}"),
            json!({"timezone": "Mars/Base", "name": ""}),
            422,
        )
        .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "timezone"]);
    let gated = app
        .json_as(
            &owner,
            Method::PATCH,
            &format!("/v1/workspaces/{id}"),
            json!({"approval_required": true}),
            402,
        )
        .await;
    assert_eq!(gated["code"], "plan_required");
    let updated = app
        .json_as(
            &owner,
            Method::PATCH,
            &format!("/v1/workspaces/{id}"),
            json!({"timezone": "Europe/London", "name": "Acme"}),
            200,
        )
        .await;
    assert_eq!(updated["timezone"], "Europe/London");
    app.set_plan(id, "studio").await;
    let approval = app
        .json_as(
            &owner,
            Method::PATCH,
            &format!("/v1/workspaces/{id}"),
            json!({"approval_required": true}),
            200,
        )
        .await;
    assert_eq!(approval["approval_required"], true);
    assert_eq!(approval["plan"], "studio");

    app.json_as(&owner, Method::DELETE, &format!("/v1/workspaces/{id}"), Value::Null, 204).await;
    app.json_as(&owner, Method::GET, &format!("/v1/workspaces/{id}"), Value::Null, 404).await;
    assert!(
        app.json_as(&owner, Method::GET, "/v1/workspaces", Value::Null, 200).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn lists_page_with_a_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("pager@example.com").await;
    for n in 0..5 {
        app.workspace(&owner, &format!("W{n}")).await;
    }
    let first = app.json_as(&owner, Method::GET, "/v1/workspaces?limit=2", Value::Null, 200).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces?limit=2&cursor={cursor}"),
            Value::Null,
            200,
        )
        .await;
    let third = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces?limit=2&cursor={}", second["next_cursor"].as_str().unwrap()),
            Value::Null,
            200,
        )
        .await;
    let names: Vec<&str> = [&first, &second, &third]
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap())
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["W0", "W1", "W2", "W3", "W4"]);
    assert_eq!(third["next_cursor"], Value::Null);
    app.json_as(&owner, Method::GET, "/v1/workspaces?limit=0", Value::Null, 422).await;
    app.json_as(&owner, Method::GET, "/v1/workspaces?limit=101", Value::Null, 422).await;
    app.json_as(&owner, Method::GET, "/v1/workspaces?cursor=bogus", Value::Null, 422).await;
}

#[db_test]
async fn an_invitation_is_accepted_once_by_the_invited_verified_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("boss@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let token = invite(&app, &owner, &workspace, "New.Hire@example.com", "member").await;
    assert!(token.starts_with(&uuid::Uuid::parse_str(&workspace).unwrap().simple().to_string()));

    let listed = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/invitations"),
            Value::Null,
            200,
        )
        .await;
    assert_eq!(listed["items"][0]["email"], "New.Hire@example.com");
    assert_eq!(listed["items"][0]["role"], "member");
    assert_eq!(listed["items"][0]["expired"], false);

    // Someone else's account cannot use it.
    let stranger = app.signed_in_user("stranger@example.com").await;
    let refused = app
        .json_as(&stranger, Method::POST, "/v1/invitations/accept", json!({"token": token}), 403)
        .await;
    assert_eq!(refused["code"], "forbidden");

    let hire = app.signed_in_user("new.hire@example.com").await;
    let joined = app
        .json_as(&hire, Method::POST, "/v1/invitations/accept", json!({"token": token}), 200)
        .await;
    assert_eq!(joined["workspace_id"], workspace.as_str());
    assert_eq!(joined["workspace_name"], "Team");
    assert_eq!(joined["role"], "member");
    let again = app
        .json_as(&hire, Method::POST, "/v1/invitations/accept", json!({"token": token}), 409)
        .await;
    assert_eq!(again["code"], "conflict");

    let members = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/members"),
            Value::Null,
            200,
        )
        .await;
    let roles: Vec<(&str, &str)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("boss@example.com", "owner"), ("new.hire@example.com", "member")]);
    assert!(
        app.json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/invitations"),
            Value::Null,
            200
        )
        .await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Inviting a member again, or an address twice, conflicts.
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/invitations"),
        json!({"email": "new.hire@example.com", "role": "admin"}),
        409,
    )
    .await;
    invite(&app, &owner, &workspace, "twice@example.com", "reviewer").await;
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/invitations"),
        json!({"email": "twice@example.com", "role": "reviewer"}),
        409,
    )
    .await;
}

#[db_test]
async fn bad_invitations_are_precise_4xx_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("inviter@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let path = format!("/v1/workspaces/{workspace}/invitations");
    for (body, field) in [
        (json!({"email": "x@example.com", "role": "owner"}), "role"),
        (json!({"email": "x@example.com", "role": "overlord"}), "role"),
        (json!({"email": "not an email", "role": "member"}), "email"),
    ] {
        let refused = app.json_as(&owner, Method::POST, &path, body, 422).await;
        assert_eq!(refused["errors"][0]["field"], field);
    }

    // Expired, withdrawn and made-up tokens are invalid.
    let expiring = invite(&app, &owner, &workspace, "late@example.com", "member").await;
    app.execute_sql("UPDATE invitations SET expires_at = created_at").await;
    let late = app.signed_in_user("late@example.com").await;
    assert_eq!(
        app.json_as(&late, Method::POST, "/v1/invitations/accept", json!({"token": expiring}), 400)
            .await["code"],
        "invalid_token"
    );
    let withdrawn = invite(&app, &owner, &workspace, "late@example.com", "member").await;
    let id = app.json_as(&owner, Method::GET, &path, Value::Null, 200).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.json_as(&owner, Method::DELETE, &format!("{path}/{id}"), Value::Null, 204).await;
    app.json_as(&owner, Method::DELETE, &format!("{path}/{id}"), Value::Null, 404).await;
    app.json_as(&late, Method::POST, "/v1/invitations/accept", json!({"token": withdrawn}), 400)
        .await;
    app.json_as(&late, Method::POST, "/v1/invitations/accept", json!({"token": "nonsense"}), 400)
        .await;
    app.json_as(
        &late,
        Method::POST,
        "/v1/invitations/accept",
        json!({"token": format!("{}.forged", uuid::Uuid::now_v7().simple())}),
        400,
    )
    .await;
    assert_eq!(
        app.json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/members"),
            Value::Null,
            200
        )
        .await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[db_test]
async fn an_unverified_account_cannot_accept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("o@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let token = invite(&app, &owner, &workspace, "unverified@example.com", "member").await;
    app.post_json(
        "/v1/auth/register",
        &json!({"email": "unverified@example.com", "password": PASSWORD, "name": "U"}),
        202,
    )
    .await;
    // Signing in needs a verified address, so the unverified account has no token to use:
    // the acceptance endpoint is behind authentication, which it cannot pass.
    app.post_json(
        "/v1/auth/login",
        &json!({"email": "unverified@example.com", "password": PASSWORD}),
        403,
    )
    .await;
    app.send(
        app.request(Method::POST, "/v1/invitations/accept").json(&json!({"token": token})),
        401,
    )
    .await;
}

#[db_test]
async fn the_free_plan_caps_members_invitations_included(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("cap@example.com").await;
    let workspace = app.workspace(&owner, "Small").await;
    invite(&app, &owner, &workspace, "one@example.com", "member").await;
    invite(&app, &owner, &workspace, "two@example.com", "member").await;
    let capped = app
        .json_as(
            &owner,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/invitations"),
            json!({"email": "three@example.com", "role": "member"}),
            402,
        )
        .await;
    assert_eq!(capped["code"], "plan_required");
    app.set_plan(&workspace, "studio").await;
    invite(&app, &owner, &workspace, "three@example.com", "member").await;
}

#[db_test]
// proves S-TENANT-4
async fn ownership_moves_only_by_transfer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("first@example.com").await;
    let admin = app.signed_in_user("admin@example.com").await;
    let member = app.signed_in_user("member@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    app.add_member(&workspace, &admin.id, "admin").await;
    app.add_member(&workspace, &member.id, "member").await;
    let member_path = |user: &TestUser| format!("/v1/workspaces/{workspace}/members/{}", user.id);

    for actor in [&owner, &admin] {
        assert_eq!(
            app.json_as(actor, Method::PATCH, &member_path(&owner), json!({"role": "member"}), 409)
                .await["code"],
            "conflict"
        );
        app.json_as(actor, Method::DELETE, &member_path(&owner), Value::Null, 409).await;
        app.json_as(actor, Method::PATCH, &member_path(&member), json!({"role": "owner"}), 409)
            .await;
    }
    app.json_as(&owner, Method::PATCH, &member_path(&member), json!({"role": "emperor"}), 422)
        .await;
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/transfer-ownership"),
        json!({"user_id": uuid::Uuid::now_v7().to_string()}),
        422,
    )
    .await;
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/transfer-ownership"),
        json!({"user_id": owner.id}),
        409,
    )
    .await;

    let view = app
        .json_as(
            &owner,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/transfer-ownership"),
            json!({"user_id": member.id}),
            200,
        )
        .await;
    assert_eq!(view["role"], "admin");
    let members = app
        .json_as(
            &member,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/members"),
            Value::Null,
            200,
        )
        .await;
    let owners: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["member@example.com"]);
    // The former owner is an admin now and may not transfer again.
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/transfer-ownership"),
        json!({"user_id": owner.id}),
        403,
    )
    .await;
}

#[db_test]
async fn members_leave_owners_do_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("stay@example.com").await;
    let reviewer = app.signed_in_user("go@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    app.add_member(&workspace, &reviewer.id, "reviewer").await;
    app.json_as(
        &reviewer,
        Method::DELETE,
        &format!("/v1/workspaces/{workspace}/members/{}", reviewer.id),
        Value::Null,
        204,
    )
    .await;
    app.json_as(&reviewer, Method::GET, &format!("/v1/workspaces/{workspace}"), Value::Null, 404)
        .await;
    app.json_as(
        &owner,
        Method::DELETE,
        &format!("/v1/workspaces/{workspace}/members/{}", owner.id),
        Value::Null,
        409,
    )
    .await;
}

#[db_test]
// proves S-LOG-1
async fn every_administrative_action_is_in_the_audit_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("audited@example.com").await;
    let workspace = app.workspace(&owner, "Audited").await;
    let path = format!("/v1/workspaces/{workspace}/audit-log");
    assert_eq!(
        app.json_as(&owner, Method::GET, &path, Value::Null, 402).await["code"],
        "plan_required"
    );
    app.set_plan(&workspace, "studio").await;

    app.json_as(
        &owner,
        Method::PATCH,
        &format!("/v1/workspaces/{workspace}"),
        json!({"name": "Renamed"}),
        200,
    )
    .await;
    let token = invite(&app, &owner, &workspace, "joiner@example.com", "member").await;
    let joiner = app.signed_in_user("joiner@example.com").await;
    app.json_as(&joiner, Method::POST, "/v1/invitations/accept", json!({"token": token}), 200)
        .await;
    app.json_as(
        &owner,
        Method::PATCH,
        &format!("/v1/workspaces/{workspace}/members/{}", joiner.id),
        json!({"role": "admin"}),
        200,
    )
    .await;
    invite(&app, &owner, &workspace, "withdrawn@example.com", "reviewer").await;
    let invitation = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/invitations"),
            Value::Null,
            200,
        )
        .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.json_as(
        &owner,
        Method::DELETE,
        &format!("/v1/workspaces/{workspace}/invitations/{invitation}"),
        Value::Null,
        204,
    )
    .await;
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/transfer-ownership"),
        json!({"user_id": joiner.id}),
        200,
    )
    .await;
    app.json_as(
        &joiner,
        Method::DELETE,
        &format!("/v1/workspaces/{workspace}/members/{}", owner.id),
        Value::Null,
        204,
    )
    .await;

    let log = app.json_as(&joiner, Method::GET, &path, Value::Null, 200).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "member.removed",
            "ownership.transferred",
            "invitation.revoked",
            "member.invited",
            "member.role_changed",
            "invitation.accepted",
            "member.invited",
            "workspace.updated",
            "workspace.created",
        ]
    );
    let role_change = &log["items"][4];
    assert_eq!(role_change["actor_id"], owner.id.as_str());
    assert_eq!(role_change["target"]["type"], "user");
    assert_eq!(role_change["target"]["id"], joiner.id.as_str());
    assert_eq!(role_change["details"], json!({"from": "member", "to": "admin"}));
    assert_eq!(role_change["ip"], "127.0.0.1");
    assert!(
        !log.to_string().contains("withdrawn@example.com"),
        "addresses are redacted in details"
    );

    // Filters and pages.
    let invites = app
        .json_as(&joiner, Method::GET, &format!("{path}?action=member.invited"), Value::Null, 200)
        .await;
    assert_eq!(invites["items"].as_array().unwrap().len(), 2);
    let by_joiner = app
        .json_as(&joiner, Method::GET, &format!("{path}?actor={}", joiner.id), Value::Null, 200)
        .await;
    assert_eq!(by_joiner["items"].as_array().unwrap().len(), 2);
    let since = log["items"][2]["occurred_at"].as_str().unwrap();
    let recent =
        app.json_as(&joiner, Method::GET, &format!("{path}?since={since}"), Value::Null, 200).await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 3);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(cursor) => format!("{path}?limit=4&cursor={cursor}"),
            None => format!("{path}?limit=4"),
        };
        let page = app.json_as(&joiner, Method::GET, &page_path, Value::Null, 200).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| entry["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let all: Vec<String> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, all);
    app.json_as(
        &joiner,
        Method::GET,
        &format!("{path}?action=member.teleported"),
        Value::Null,
        422,
    )
    .await;
    app.json_as(&joiner, Method::GET, &format!("{path}?since=yesterday"), Value::Null, 422).await;
}

#[db_test]
async fn erasure_is_refused_while_owning_a_team_and_takes_solo_workspaces_along(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("leaving@example.com").await;
    let colleague = app.signed_in_user("colleague@example.com").await;
    let team = app.workspace(&owner, "Team").await;
    let solo = app.workspace(&owner, "Solo").await;
    app.add_member(&team, &colleague.id, "admin").await;

    let refused =
        app.json_as(&owner, Method::DELETE, "/v1/me", json!({"password": PASSWORD}), 409).await;
    assert_eq!(refused["code"], "conflict");
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{team}/transfer-ownership"),
        json!({"user_id": colleague.id}),
        200,
    )
    .await;
    app.json_as(&owner, Method::DELETE, "/v1/me", json!({"password": PASSWORD}), 204).await;

    let team_now = app
        .json_as(
            &colleague,
            Method::GET,
            &format!("/v1/workspaces/{team}/members"),
            Value::Null,
            200,
        )
        .await;
    assert_eq!(team_now["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM workspaces WHERE id = {} AND deleted_at IS NOT NULL",
            app.uuid_literal(&solo)
        ))
        .await,
        1
    );
}

#[db_test]
// Invite, revoke, invite again must not turn PostRoute into a relay for the inviter's text.
async fn invitation_emails_are_limited_per_address_and_per_workspace(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.rate_limits.invitations_per_workspace_per_day = 5;
            config.rate_limits.invitations_per_inviter_per_day = 5;
        })
        .spawn()
        .await;
    let owner = app.signed_in_user("relay@example.com").await;
    let workspace = app.workspace(&owner, "Relay").await;
    app.set_plan(&workspace, "agency").await; // no member limit in the way
    let path = format!("/v1/workspaces/{workspace}/invitations");
    let invitation_emails =
        || app.count("SELECT count(*) FROM email_outbox WHERE template = 'invitation'");

    // Three from one workspace to one address in a day, then 429, even with each withdrawn.
    for _ in 0..3 {
        let invited = app
            .json_as(
                &owner,
                Method::POST,
                &path,
                json!({"email": "target@example.com", "role": "member"}),
                201,
            )
            .await;
        let id = invited["id"].as_str().unwrap();
        app.send(
            app.request(Method::DELETE, &format!("{path}/{id}")).bearer_auth(&owner.access_token),
            204,
        )
        .await;
    }
    let refused = app
        .send(
            app.request(Method::POST, &path)
                .bearer_auth(&owner.access_token)
                .json(&json!({"email": "Target@Example.com", "role": "member"})),
            429,
        )
        .await;
    assert_eq!(refused.json()["code"], "rate_limited");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(invitation_emails().await, 3, "the refused invitation sent nothing");

    // The workspace's own limit (5 here, 50 by default) counts every address.
    app.json_as(
        &owner,
        Method::POST,
        &path,
        json!({"email": "fourth@example.com", "role": "member"}),
        201,
    )
    .await;
    app.json_as(
        &owner,
        Method::POST,
        &path,
        json!({"email": "fifth@example.com", "role": "member"}),
        201,
    )
    .await;
    let refused = app
        .json_as(
            &owner,
            Method::POST,
            &path,
            json!({"email": "sixth@example.com", "role": "member"}),
            429,
        )
        .await;
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(invitation_emails().await, 5);

    // Another workspace can still invite the address the first one used up: nobody keeps
    // a person out of other workspaces by spending their invitations.
    let other_owner = app.signed_in_user("other@example.com").await;
    let other = app.workspace(&other_owner, "Elsewhere").await;
    app.json_as(
        &other_owner,
        Method::POST,
        &format!("/v1/workspaces/{other}/invitations"),
        json!({"email": "target@example.com", "role": "member"}),
        201,
    )
    .await;
    // One account's budget spans its workspaces: a new workspace adds nothing to it.
    let second = app.workspace(&owner, "Relay again").await;
    app.set_plan(&second, "agency").await;
    let refused = app
        .json_as(
            &owner,
            Method::POST,
            &format!("/v1/workspaces/{second}/invitations"),
            json!({"email": "seventh@example.com", "role": "member"}),
            429,
        )
        .await;
    assert_eq!(refused["code"], "rate_limited");
    let events = app.store().system_events().recent(20).await.unwrap();
    assert!(events.iter().any(|event| event.event_type == "rate_limited"
        && event.details["limit"] == "invitations-workspace"));
}
