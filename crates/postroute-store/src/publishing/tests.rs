//! The publisher's claim, intent and recovery on both databases: what makes a target go out
//! exactly once however many workers run and whenever one of them dies.

use chrono::{DateTime, Duration, Utc};
use postroute_domain::{ChannelId, PostId, UserId, WorkspaceId};
use postroute_test_db::{Backend, db_test};

use super::{Answer, TargetKey, TargetOutcome};
use crate::Store;
use crate::pool::Scope;
use crate::tenant::tests::{store_on, user, workspace};

const LEASE: Duration = Duration::seconds(60);

/// Runs `sql` with `binds` in `workspace`'s scope.
async fn execute(store: &Store, workspace: WorkspaceId, sql: &str, binds: Binds) -> u64 {
    let mut tx = store.db.begin_in(Scope::Workspace(workspace)).await.unwrap();
    let done = on_conn!(tx.conn(), |c| {
        let mut query = sqlx::query(sql);
        for uuid in &binds.uuids {
            query = query.bind(*uuid);
        }
        for time in &binds.times {
            query = query.bind(*time);
        }
        query.execute(&mut *c).await.map(|done| done.rows_affected())
    })
    .unwrap();
    tx.commit().await.unwrap();
    done
}

/// Values for `$1…`: the uuids first, then the times.
#[derive(Default)]
struct Binds {
    uuids: Vec<uuid::Uuid>,
    times: Vec<DateTime<Utc>>,
}

/// A workspace with an X channel and a post scheduled at `due`, its one target pending.
async fn scheduled_post(store: &Store, due: DateTime<Utc>) -> (TargetKey, UserId) {
    let owner = user(store, &format!("owner-{}@example.com", uuid::Uuid::now_v7())).await;
    let workspace = workspace(store, owner).await;
    let (post, channel) = (PostId::new(), ChannelId::new());
    let now = Utc::now();
    execute(
        store,
        workspace,
        "INSERT INTO channels (workspace_id, id, provider, external_id, display_name, status, \
         connected_at, updated_at) \
         VALUES ($1, $2, 'x', 'x-1', '@one', 'active', $3, $3)",
        Binds { uuids: vec![workspace.as_uuid(), channel.as_uuid()], times: vec![now] },
    )
    .await;
    execute(
        store,
        workspace,
        "INSERT INTO posts (workspace_id, id, status, content, scheduled_at, version, \
         created_at, updated_at) \
         VALUES ($1, $2, 'scheduled', 'Hello', $3, 1, $4, $4)",
        Binds { uuids: vec![workspace.as_uuid(), post.as_uuid()], times: vec![due, now] },
    )
    .await;
    execute(
        store,
        workspace,
        "INSERT INTO post_targets (workspace_id, post_id, channel_id, position, \
         next_attempt_at) \
         VALUES ($1, $2, $3, 0, $4)",
        Binds {
            uuids: vec![workspace.as_uuid(), post.as_uuid(), channel.as_uuid()],
            times: vec![due],
        },
    )
    .await;
    (TargetKey { workspace, post, channel }, owner)
}

/// The target's status, fence and attempts, and its post's status.
async fn state(store: &Store, key: &TargetKey) -> (String, i64, i32, String) {
    let mut tx = store.db.begin_read_in(Scope::Workspace(key.workspace)).await.unwrap();
    let row = on_conn!(tx.conn(), |c| sqlx::query_as(
        "SELECT t.status, t.fence, t.attempts, p.status \
         FROM post_targets t JOIN posts p ON p.workspace_id = t.workspace_id AND p.id = t.post_id \
         WHERE t.workspace_id = $1 AND t.post_id = $2 AND t.channel_id = $3",
    )
    .bind(key.workspace.as_uuid())
    .bind(key.post.as_uuid())
    .bind(key.channel.as_uuid())
    .fetch_one(&mut *c)
    .await)
    .unwrap();
    tx.commit().await.unwrap();
    row
}

/// Attempt rows of `key` in `phase`.
async fn attempts(store: &Store, key: &TargetKey, phase: &str) -> i64 {
    let mut tx = store.db.begin_read_in(Scope::Workspace(key.workspace)).await.unwrap();
    let (count,): (i64,) = on_conn!(tx.conn(), |c| sqlx::query_as(
        "SELECT count(*) FROM publish_attempts \
         WHERE workspace_id = $1 AND post_id = $2 AND phase = $3",
    )
    .bind(key.workspace.as_uuid())
    .bind(key.post.as_uuid())
    .bind(phase)
    .fetch_one(&mut *c)
    .await)
    .unwrap();
    tx.commit().await.unwrap();
    count
}

#[db_test]
async fn a_due_target_is_claimed_by_one_worker_and_its_fence_grows_with_every_claim(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, _) = scheduled_post(&store, now - Duration::seconds(5)).await;
    let (later, _) = scheduled_post(&store, now + Duration::hours(1)).await;
    let publishing = store.cross_tenant_unscoped().publishing();

    let (first, second) = tokio::join!(
        publishing.claim_due("worker-a", now, now + LEASE, 10),
        publishing.claim_due("worker-b", now, now + LEASE, 10),
    );
    let claimed: Vec<_> = first.unwrap().into_iter().chain(second.unwrap()).collect();
    assert_eq!(claimed.len(), 1, "one worker, once: {claimed:?}");
    assert_eq!(claimed[0].key, key);
    assert_eq!(claimed[0].fence, 1);
    assert_eq!(claimed[0].provider, postroute_domain::Provider::X);
    let (status, fence, _, post_status) = state(&store, &key).await;
    assert_eq!((status.as_str(), fence, post_status.as_str()), ("publishing", 1, "publishing"));
    assert_eq!(state(&store, &later).await.0, "pending", "not due yet");

    // While the lease lasts nobody else takes it; once it has run out with no intent, the
    // target is queued again and the next claim holds a higher fence.
    assert!(publishing.claim_due("worker-b", now, now + LEASE, 10).await.unwrap().is_empty());
    let after = now + LEASE + Duration::seconds(1);
    let recovered = publishing.recover_expired(after, after).await.unwrap();
    assert_eq!((recovered.requeued, recovered.unknown), (1, 0));
    let again = publishing.claim_due("worker-b", after, after + LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].fence, 2);
}

#[db_test]
async fn a_target_claimed_as_its_channel_was_lost_fails_with_the_reason_not_waits_forever(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let publishing = store.cross_tenant_unscoped().publishing();
    let mut lost = Vec::new();
    for status in ["disconnected", "needs_reconnect"] {
        let (key, _) = scheduled_post(&store, now - Duration::seconds(5)).await;
        let claimed = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        // Lost while the worker held the target, before any call: the channel's own pass
        // failed only the targets that were waiting then.
        let sql =
            format!("UPDATE channels SET status = '{status}' WHERE workspace_id = $1 AND id = $2");
        let binds =
            Binds { uuids: vec![key.workspace.as_uuid(), key.channel.as_uuid()], times: vec![] };
        assert_eq!(execute(&store, key.workspace, &sql, binds).await, 1);
        lost.push(key);
    }

    let after = now + LEASE + Duration::seconds(1);
    let recovered = publishing.recover_expired(after, after).await.unwrap();
    assert_eq!((recovered.failed, recovered.requeued, recovered.unknown), (2, 0, 0));
    for key in &lost {
        let (status, _, attempts, post_status) = state(&store, key).await;
        assert_eq!((status.as_str(), attempts, post_status.as_str()), ("failed", 0, "failed"));
    }
    let reports = publishing.reports_due(10).await.unwrap();
    assert_eq!(reports.len(), 2, "both are reported");
    let disconnected = reports.iter().find(|report| report.key == lost[0]).unwrap();
    assert_eq!(disconnected.error_code.as_deref(), Some(crate::LOST_TO_DISCONNECT));
    let reconnect = reports.iter().find(|report| report.key == lost[1]).unwrap();
    assert!(reconnect.error.as_deref().unwrap().contains("Reconnect the channel"), "{reconnect:?}");
    // Not the code of a target the channel's own email named: this one gets an email of its own.
    assert_eq!(reconnect.error_code, None);
}

#[db_test]
async fn a_claim_says_when_its_target_came_due_and_a_late_one_is_missed_under_its_fence(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let due = now - Duration::hours(3);
    let (key, owner) = scheduled_post(&store, due).await;
    let publishing = store.cross_tenant_unscoped().publishing();

    // Claimed before any sweep saw it (it crossed the line in between).
    let claimed = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].came_due_at.timestamp_millis(), due.timestamp_millis());
    assert!(!publishing.miss_claimed(&key, claimed[0].fence + 1, now).await.unwrap(), "fenced");
    assert!(publishing.miss_claimed(&key, claimed[0].fence, now).await.unwrap());
    let (status, _, attempts, post_status) = state(&store, &key).await;
    assert_eq!((status.as_str(), attempts, post_status.as_str()), ("missed", 0, "failed"));
    let reports = publishing.reports_due(10).await.unwrap();
    assert_eq!(reports.len(), 1, "a person is told");

    // A person sends it again: it is due from that moment, not from its post's old time.
    let audit = postroute_domain::NewAuditEntry::new(
        postroute_domain::AuditAction::PostRetried,
        owner,
        std::net::IpAddr::from([127, 0, 0, 1]),
    );
    let tenant = store.tenant(key.workspace);
    let retried =
        tenant.decide_target(key.post, key.channel, &crate::TargetDecision::Retry, &audit, now);
    assert_eq!(retried.await.unwrap(), Some(true));
    assert_eq!(publishing.sweep_missed(now, now - Duration::hours(2)).await.unwrap(), 0);
    let again = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].came_due_at.timestamp_millis(), now.timestamp_millis());
}

#[db_test]
async fn a_target_taken_back_from_a_dead_worker_hours_later_is_missed_not_published_late(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let due = Utc::now() - Duration::hours(3);
    let (key, _) = scheduled_post(&store, due).await;
    let (on_time, _) = scheduled_post(&store, due + Duration::hours(2)).await;
    let publishing = store.cross_tenant_unscoped().publishing();

    // A worker claims the first target on time and dies before its intent; no worker runs
    // again until three hours after the post was due. Its post says `publishing` by then.
    let claimed = publishing.claim_due("worker-a", due, due + LEASE, 1).await.unwrap();
    assert_eq!(claimed[0].key, key);
    let now = due + Duration::hours(3);
    let recovered = publishing.recover_expired(now, now).await.unwrap();
    assert_eq!((recovered.requeued, recovered.unknown), (1, 0));
    assert_eq!(state(&store, &key).await.3, "publishing");

    // Two hours is the line: the target taken back is missed, the later post is not.
    let missed = publishing.sweep_missed(now, now - Duration::hours(2)).await.unwrap();
    assert_eq!(missed, 1);
    let (status, _, _, post_status) = state(&store, &key).await;
    assert_eq!((status.as_str(), post_status.as_str()), ("missed", "failed"));
    let claimed = publishing.claim_due("worker-b", now, now + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].key, on_time);
}

#[db_test]
async fn no_call_starts_under_a_stale_fence_or_a_lease_shorter_than_the_call(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, _) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    let claimed = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
    let fence = claimed[0].fence;

    let stale = publishing.begin_attempt(&key, fence - 1, "worker-a", now, now).await.unwrap();
    assert_eq!(stale, None, "a fence that no longer holds the target");
    let too_short = publishing
        .begin_attempt(&key, fence, "worker-a", now, now + LEASE + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(too_short, None, "the lease would end before the call's timeout");
    assert_eq!(attempts(&store, &key, "sending").await, 0);

    let intent = publishing
        .begin_attempt(&key, fence, "worker-a", now, now + Duration::seconds(30))
        .await
        .unwrap();
    assert!(intent.is_some());
    assert_eq!(attempts(&store, &key, "sending").await, 1);
    assert_eq!(state(&store, &key).await.2, 1, "one attempt counted");
}

#[db_test]
async fn a_lease_that_ran_out_after_the_intent_leaves_the_target_unknown_never_resent(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, _) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    let fence = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap()[0].fence;
    publishing
        .begin_attempt(&key, fence, "worker-a", now, now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();

    // The worker dies between the call and its answer.
    let after = now + LEASE + Duration::seconds(1);
    let recovered = publishing.recover_expired(after, after).await.unwrap();
    assert_eq!((recovered.requeued, recovered.unknown), (0, 1));
    assert_eq!(state(&store, &key).await.0, "unknown");
    assert!(
        publishing.claim_due("worker-b", after, after + LEASE, 10).await.unwrap().is_empty(),
        "an unknown outcome is reconciled, never sent again blindly"
    );
}

#[db_test]
async fn an_answer_is_kept_even_after_the_lease_was_lost_but_changes_only_its_own_claim(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, _) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    let fence = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap()[0].fence;
    let attempt = publishing
        .begin_attempt(&key, fence, "worker-a", now, now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    // Meanwhile another claim took the target (as reconciliation will).
    execute(
        &store,
        key.workspace,
        "UPDATE post_targets SET fence = fence + 1 WHERE workspace_id = $1",
        Binds { uuids: vec![key.workspace.as_uuid()], times: vec![] },
    )
    .await;

    let answer = Answer {
        class: "published".to_owned(),
        http_status: Some(201),
        platform_post_id: Some("1850000000000000001".to_owned()),
        platform_request_id: Some("req-1".to_owned()),
        ..Answer::default()
    };
    let outcome = TargetOutcome::Published {
        platform_post_id: "1850000000000000001".to_owned(),
        url: Some("https://x.com/one/status/1850000000000000001".to_owned()),
    };
    let applied =
        publishing.record_answer(&key, fence, attempt, &answer, &outcome, now).await.unwrap();
    assert!(!applied, "the stale worker does not write the target");
    assert_eq!(state(&store, &key).await.0, "publishing");
    assert_eq!(attempts(&store, &key, "answered").await, 1, "but its answer is on record");

    // The holder's answer applies.
    let applied =
        publishing.record_answer(&key, fence + 1, attempt, &answer, &outcome, now).await.unwrap();
    assert!(applied);
    assert_eq!(state(&store, &key).await.0, "published");
}

#[db_test]
async fn a_retry_waits_for_its_time_and_is_claimed_under_a_new_fence(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, _) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    let fence = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap()[0].fence;
    let attempt = publishing
        .begin_attempt(&key, fence, "worker-a", now, now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    let retry_at = now + Duration::seconds(90);
    let answer = Answer {
        class: "rate_limited".to_owned(),
        http_status: Some(429),
        detail: Some("X asked to wait until its rate limit resets.".to_owned()),
        ..Answer::default()
    };
    let outcome = TargetOutcome::RetryAt { at: retry_at };
    assert!(publishing.record_answer(&key, fence, attempt, &answer, &outcome, now).await.unwrap());
    assert_eq!(state(&store, &key).await.0, "pending");

    let early = now + Duration::seconds(30);
    assert!(publishing.claim_due("worker-b", early, early + LEASE, 10).await.unwrap().is_empty());
    let due = retry_at + Duration::seconds(1);
    let claimed = publishing.claim_due("worker-b", due, due + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].fence, claimed[0].attempts), (fence + 1, 1));
}

#[db_test]
async fn a_target_that_came_due_long_ago_is_missed_not_published(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (stale, _) = scheduled_post(&store, now - Duration::hours(3)).await;
    let (fresh, _) = scheduled_post(&store, now - Duration::minutes(5)).await;
    let publishing = store.cross_tenant_unscoped().publishing();

    let missed = publishing.sweep_missed(now, now - Duration::hours(2)).await.unwrap();
    assert_eq!(missed, 1);
    let (status, _, _, post_status) = state(&store, &stale).await;
    assert_eq!((status.as_str(), post_status.as_str()), ("missed", "failed"), "the post follows");
    let claimed = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|target| target.key).collect::<Vec<_>>(), [fresh]);
}

#[db_test]
async fn publish_attempts_are_append_only_and_go_only_with_their_target(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, _) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    let fence = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap()[0].fence;
    publishing
        .begin_attempt(&key, fence, "worker-a", now, now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();

    for statement in
        ["UPDATE publish_attempts SET worker = 'someone else'", "DELETE FROM publish_attempts"]
    {
        let mut tx = store.db.begin_in(Scope::Workspace(key.workspace)).await.unwrap();
        let outcome = on_conn!(tx.conn(), |c| sqlx::query(statement)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()));
        assert!(outcome.is_err(), "{statement} refused on {}: {outcome:?}", backend.name());
    }

    // Purging the workspace takes its attempts with it.
    execute(
        &store,
        key.workspace,
        "UPDATE workspaces SET deleted_at = $2 WHERE id = $1",
        Binds { uuids: vec![key.workspace.as_uuid()], times: vec![now] },
    )
    .await;
    assert!(store.tenant(key.workspace).purge().await.unwrap());
    let mut tx = store.db.begin_read_in(Scope::CrossTenant).await.unwrap();
    let (left,): (i64,) =
        on_conn!(tx.conn(), |c| sqlx::query_as("SELECT count(*) FROM publish_attempts")
            .fetch_one(&mut *c)
            .await)
        .unwrap();
    assert_eq!(left, 0);
}

#[db_test]
async fn a_persons_decision_fences_out_a_reconciler_still_looking(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (key, owner) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    let fence = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap()[0].fence;
    publishing
        .begin_attempt(&key, fence, "worker-a", now, now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    let after = now + LEASE + Duration::seconds(1);
    publishing.recover_expired(after, after).await.unwrap();

    let looking = publishing.claim_unknown("worker-b", after, after + LEASE, 10).await.unwrap();
    assert_eq!(looking.len(), 1);
    assert_eq!(looking[0].claim.fence, fence + 1, "reconciliation claims under a new fence");
    let sent_at = looking[0].sent_at.unwrap();
    // PostgreSQL keeps microseconds.
    assert!((sent_at - now).abs() < Duration::milliseconds(1), "the search starts at the call");
    assert!(
        publishing.claim_unknown("worker-c", after, after + LEASE, 10).await.unwrap().is_empty(),
        "one reconciler at a time"
    );

    let audit = postroute_domain::NewAuditEntry::new(
        postroute_domain::AuditAction::PostMarkedPublished,
        owner,
        std::net::IpAddr::from([127, 0, 0, 1]),
    );
    let decision = crate::TargetDecision::MarkPublished { url: "https://x.com/i/web/status/1" };
    let tenant = store.tenant(key.workspace);
    let decided = tenant.decide_target(key.post, key.channel, &decision, &audit, after);
    assert_eq!(decided.await.unwrap(), Some(true));
    let late = publishing
        .record_reconciled(
            &key,
            looking[0].claim.fence,
            "worker-b",
            &crate::Reconciliation::Retry,
            "nothing found",
            after,
        )
        .await
        .unwrap();
    assert!(!late, "the person's decision stands");
    assert_eq!(state(&store, &key).await.0, "published");
}

#[db_test]
async fn an_outcome_is_reported_once_and_a_paused_provider_is_not_claimed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let (stale, _) = scheduled_post(&store, now - Duration::hours(3)).await;
    let (due, _) = scheduled_post(&store, now).await;
    let publishing = store.cross_tenant_unscoped().publishing();
    publishing.sweep_missed(now, now - Duration::hours(2)).await.unwrap();

    let reports = publishing.reports_due(10).await.unwrap();
    assert_eq!(reports.iter().map(|report| report.key).collect::<Vec<_>>(), [stale]);
    let seen = [(stale, reports[0].status)];
    let entry =
        postroute_domain::NewAuditEntry::by_system(postroute_domain::AuditAction::PostMissed);
    let entries = [entry];
    let reported = publishing.mark_reported(stale.workspace, &seen, &entries, &[], now);
    assert_eq!(reported.await.unwrap(), 1);
    assert!(publishing.reports_due(10).await.unwrap().is_empty());
    let again = publishing.mark_reported(stale.workspace, &seen, &entries, &[], now);
    assert_eq!(again.await.unwrap(), 0, "a second report writes nothing");

    let provider = postroute_domain::Provider::X;
    assert!(
        publishing
            .pause_provider(provider, now + Duration::hours(1), "credits", now)
            .await
            .unwrap()
    );
    assert!(
        !publishing
            .pause_provider(provider, now + Duration::hours(1), "credits", now)
            .await
            .unwrap(),
        "only the first to pause raises the alarm"
    );
    assert!(publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap().is_empty());
    assert!(publishing.resume_provider(provider, now).await.unwrap());
    let claimed = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|target| target.key).collect::<Vec<_>>(), [due]);
}

#[db_test]
async fn intents_and_answers_that_share_a_commit_each_get_their_own_result(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let mut keys = Vec::new();
    for _ in 0..12 {
        keys.push(scheduled_post(&store, now).await.0);
    }
    let publishing = store.cross_tenant_unscoped().publishing();
    let claimed = publishing.claim_due("worker-a", now, now + LEASE, 20).await.unwrap();
    assert_eq!(claimed.len(), keys.len());
    let fence_of = |key: &TargetKey| claimed.iter().find(|c| c.key == *key).unwrap().fence;
    let hold = now + Duration::seconds(30);

    // Every intent is submitted before the first commit ends, so they share commits (on
    // SQLite, one: its single writer gives one turn). A stale fence among them gets its own
    // "do not call", and costs the others nothing.
    let stale = publishing.begin_attempt(&keys[0], fence_of(&keys[0]) - 1, "worker-a", now, hold);
    let intents = futures_util::future::join_all(
        keys.iter().map(|key| publishing.begin_attempt(key, fence_of(key), "worker-a", now, hold)),
    );
    let (stale, intents) = tokio::join!(stale, intents);
    assert_eq!(stale.unwrap(), None);
    let attempts_made: Vec<_> = intents.into_iter().map(|intent| intent.unwrap()).collect();
    assert!(attempts_made.iter().all(Option::is_some), "{attempts_made:?}");
    for key in &keys {
        assert_eq!(attempts(&store, key, "sending").await, 1);
        assert_eq!(state(&store, key).await.2, 1, "one attempt counted");
    }

    // The answers, likewise together; one of them under a fence that no longer holds.
    let answer = Answer { class: "published".to_owned(), ..Answer::default() };
    let outcomes: Vec<TargetOutcome> = (0..keys.len())
        .map(|n| TargetOutcome::Published {
            platform_post_id: format!("18500000000000000{n:02}"),
            url: None,
        })
        .collect();
    let answers = futures_util::future::join_all(keys.iter().enumerate().map(|(n, key)| {
        let fence = if n == 1 { fence_of(key) + 1 } else { fence_of(key) };
        let attempt = attempts_made[n].unwrap();
        publishing.record_answer(key, fence, attempt, &answer, &outcomes[n], now)
    }))
    .await;
    let applied: Vec<bool> = answers.into_iter().map(|applied| applied.unwrap()).collect();
    assert_eq!(applied.iter().filter(|applied| !**applied).count(), 1, "{applied:?}");
    assert!(!applied[1], "the wrong fence is refused");
    for (n, key) in keys.iter().enumerate() {
        assert_eq!(attempts(&store, key, "answered").await, 1, "every answer kept");
        let (status, _, _, post_status) = state(&store, key).await;
        let expected = if n == 1 { "publishing" } else { "published" };
        assert_eq!((status.as_str(), post_status.as_str()), (expected, expected));
    }
}

#[db_test]
async fn a_write_the_database_refuses_fails_alone_not_the_commit_it_shared(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let now = Utc::now();
    let mut keys = Vec::new();
    for _ in 0..8 {
        keys.push(scheduled_post(&store, now).await.0);
    }
    let publishing = store.cross_tenant_unscoped().publishing();
    let claimed = publishing.claim_due("worker-a", now, now + LEASE, 10).await.unwrap();
    let fence_of = |key: &TargetKey| claimed.iter().find(|c| c.key == *key).unwrap().fence;
    let hold = now + Duration::seconds(30);
    let mut attempt_of = Vec::new();
    for key in &keys {
        let attempt = publishing.begin_attempt(key, fence_of(key), "worker-a", now, hold).await;
        attempt_of.push(attempt.unwrap().unwrap());
    }

    // PostgreSQL refuses a NUL character in text; SQLite stores it. The refused answer is the
    // last of eight submitted at once: the first take every turn PostgreSQL gives, so it
    // waits with others for a shared commit (on SQLite, every one after the first does).
    // Whatever the database says of that answer, those committed beside it are not lost.
    let refused = Answer {
        class: "permanent".to_owned(),
        detail: Some("X said \0".to_owned()),
        ..Answer::default()
    };
    let published = Answer { class: "published".to_owned(), ..Answer::default() };
    let out =
        TargetOutcome::Published { platform_post_id: "1850000000000000007".into(), url: None };
    let (last, others) = keys.split_last().unwrap();
    let answers = futures_util::future::join_all(
        others
            .iter()
            .zip(&attempt_of)
            .map(|(key, attempt)| {
                publishing.record_answer(key, fence_of(key), *attempt, &published, &out, now)
            })
            .chain(std::iter::once(publishing.record_answer(
                last,
                fence_of(last),
                attempt_of[keys.len() - 1],
                &refused,
                &TargetOutcome::Failed,
                now,
            ))),
    )
    .await;
    let (last_applied, others_applied) = answers.split_last().unwrap();
    for (key, applied) in others.iter().zip(others_applied) {
        assert!(applied.as_ref().unwrap(), "{applied:?}");
        assert_eq!(state(&store, key).await.0, "published");
        assert_eq!(attempts(&store, key, "answered").await, 1);
    }
    match backend.name() {
        "postgres" => {
            assert!(last_applied.is_err(), "{last_applied:?}");
            assert_eq!(state(&store, last).await.0, "publishing", "left to its lease");
            assert_eq!(attempts(&store, last, "answered").await, 0);
        }
        _ => assert!(last_applied.as_ref().unwrap()),
    }
}

#[db_test]
async fn a_commit_is_on_disk_before_it_returns_whatever_the_servers_default(backend: Backend) {
    // An intent that a power loss could roll back after its call was made would let the post
    // go out again; so the writer syncs at every commit on both databases.
    let dir = tempfile::tempdir().unwrap();
    let (database, store) = store_on(&backend, dir.path()).await;
    let durable = match &store.db {
        crate::pool::Db::Sqlite(pools) => {
            let (level,): (i64,) =
                sqlx::query_as("PRAGMA synchronous").fetch_one(&pools.write).await.unwrap();
            level == 2 // FULL
        }
        crate::pool::Db::Postgres(_) => {
            // This database's own default says otherwise; the store's connections do not
            // take it.
            let admin = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(database.url())
                .await
                .unwrap();
            let (name,): (String,) =
                sqlx::query_as("SELECT current_database()").fetch_one(&admin).await.unwrap();
            sqlx::query(&format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off"))
                .execute(&admin)
                .await
                .unwrap();
            let (plain,): (String,) = sqlx::query_as("SHOW synchronous_commit")
                .fetch_one(
                    &sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect(database.url())
                        .await
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(plain, "off", "a connection without the store's options takes it");
            let fresh = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(crate::dialect::postgres_options(database.url()).unwrap())
                .await
                .unwrap();
            let (setting,): (String,) =
                sqlx::query_as("SHOW synchronous_commit").fetch_one(&fresh).await.unwrap();
            setting == "on"
        }
    };
    assert!(durable);
}
