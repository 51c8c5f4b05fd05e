//! The SMTP client against the fake relay.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_fakes::{FakeSmtp, RelayMode};
use postroute_platforms::email::{DeliveryError, OutgoingEmail, SmtpClient};

fn email() -> OutgoingEmail<'static> {
    OutgoingEmail {
        from: "PostRoute <no-reply@postroute.example>",
        to: "ada@example.com",
        subject: "Welcome",
        text: "Hello in text",
        html: "<p>Hello in HTML</p>",
        idempotency_key: "0192-message",
    }
}

#[tokio::test]
async fn a_message_reaches_the_relay_as_text_and_html_with_a_stable_message_id() {
    let relay = FakeSmtp::start().await.unwrap();
    let client = SmtpClient::new(&relay.url()).unwrap();
    let message_id = client.send(&email()).await.unwrap();
    assert_eq!(message_id, "<0192-message@postroute>");
    let messages = relay.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].from, "no-reply@postroute.example");
    assert_eq!(messages[0].to, vec!["ada@example.com".to_owned()]);
    let data = &messages[0].data;
    assert!(data.contains("Subject: Welcome"), "{data}");
    assert!(data.contains("Message-ID: <0192-message@postroute>"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Hello in text") && data.contains("Hello in HTML"), "{data}");
}

#[tokio::test]
async fn temporary_refusals_are_retryable_permanent_ones_are_not() {
    let relay = FakeSmtp::start().await.unwrap();
    let client = SmtpClient::new(&relay.url()).unwrap();
    relay.set_mode(RelayMode::TemporarilyFailing);
    let temporary = client.send(&email()).await.unwrap_err();
    assert!(matches!(temporary, DeliveryError::Transient(_)), "{temporary:?}");
    relay.set_mode(RelayMode::RejectingRecipients);
    let permanent = client.send(&email()).await.unwrap_err();
    assert!(matches!(permanent, DeliveryError::Permanent(_)), "{permanent:?}");
    assert!(relay.messages().is_empty());
}

#[tokio::test]
async fn an_unreachable_relay_is_a_transient_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = SmtpClient::new(&format!("smtp://127.0.0.1:{port}")).unwrap();
    assert!(client.send(&email()).await.unwrap_err().is_retryable());
}

/// Each message is its own SMTP transaction, even when the client reuses a connection.
#[tokio::test]
async fn each_message_reaches_only_its_own_recipient() {
    let relay = FakeSmtp::start().await.unwrap();
    let client = SmtpClient::new(&relay.url()).unwrap();
    client.send(&email()).await.unwrap();
    client
        .send(&OutgoingEmail { to: "grace@example.com", idempotency_key: "0193", ..email() })
        .await
        .unwrap();
    let recipients: Vec<Vec<String>> =
        relay.messages().into_iter().map(|message| message.to).collect();
    assert_eq!(
        recipients,
        [vec!["ada@example.com".to_owned()], vec!["grace@example.com".to_owned()]]
    );
}
