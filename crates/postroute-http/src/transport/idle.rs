//! Closes connections that carry no request for a while, whatever their HTTP version.
//!
//! hyper ends an idle HTTP/1 connection through its header-read deadline, which also runs while
//! a kept-alive connection waits for its next request. HTTP/2 has nothing alike: a client that
//! made one request could keep the connection, and its file descriptor, for ever. So every
//! connection gets a watchdog that counts the requests in flight (a request lasts until its
//! response body has been sent or dropped) and, once none has been in flight for the idle
//! timeout, asks the connection to close gracefully (HTTP/2 GOAWAY, HTTP/1 close after the
//! current exchange). A connection that still has not gone one idle period later, with nothing
//! in flight, is closed outright.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::HttpBody;
use axum::http::{Request, Response};
use axum_server::ConnectionShutdown;
use futures_util::future::BoxFuture;
use http_body::{Frame, SizeHint};
use tokio::time::Instant;
use tower::Service;

/// One connection's activity, shared by its service clones, its response bodies and its
/// watchdog (which holds it weakly, so it ends with the connection).
#[derive(Debug)]
struct Activity {
    idle_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    /// When the last request finished (or the connection started).
    idle_since: Instant,
    watching: bool,
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two counters: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection will have been idle long enough, or `None` while a request runs.
    fn idle_deadline(&self) -> Option<Instant> {
        let state = self.lock();
        (state.in_flight == 0).then(|| state.idle_since + self.idle_timeout)
    }
}

/// Counts one request in flight until dropped.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.lock().in_flight += 1;
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// Wraps a connection's service so that the connection closes once idle for `idle_timeout`.
#[derive(Clone, Debug)]
pub struct IdleService<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> IdleService<S> {
    /// The service of a connection accepted just now.
    pub fn new(inner: S, idle_timeout: Duration) -> Self {
        let state = State { in_flight: 0, idle_since: Instant::now(), watching: false };
        Self { inner, activity: Arc::new(Activity { idle_timeout, state: Mutex::new(state) }) }
    }

    /// Starts the watchdog on the first request: the server puts the connection's shutdown
    /// handle in each request. Before the first request the server's first-request deadline
    /// applies instead.
    fn watch<B>(&self, request: &Request<B>) {
        let Some(shutdown) = request.extensions().get::<ConnectionShutdown>() else { return };
        {
            let mut state = self.activity.lock();
            if state.watching {
                return;
            }
            state.watching = true;
        }
        tokio::spawn(watchdog(Arc::downgrade(&self.activity), shutdown.clone()));
    }
}

/// How the watchdog closes its connection.
trait Close: Send + 'static {
    /// No new requests; the connection ends once the current exchanges are done.
    fn gracefully(&self);
    /// At once.
    fn now(&self);
}

impl Close for ConnectionShutdown {
    fn gracefully(&self) {
        self.graceful_shutdown();
    }

    fn now(&self) {
        self.shutdown();
    }
}

async fn watchdog(activity: Weak<Activity>, shutdown: impl Close) {
    let mut asked_to_close = false;
    loop {
        // Holding only a weak reference between checks: a connection that ended on its own
        // leaves nothing to upgrade, and the watchdog ends too.
        let wake = {
            let Some(activity) = activity.upgrade() else { return };
            match activity.idle_deadline() {
                Some(deadline) if deadline <= Instant::now() => {
                    if asked_to_close {
                        tracing::debug!("idle connection ignored the request to close; closing it");
                        shutdown.now();
                        return;
                    }
                    shutdown.gracefully();
                    asked_to_close = true;
                    Instant::now() + activity.idle_timeout
                }
                Some(deadline) => deadline,
                // Busy: look again after a while; finishing a request moves the deadline anyway.
                None => Instant::now() + activity.idle_timeout,
            }
        };
        tokio::time::sleep_until(wake).await;
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for IdleService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.watch(&request);
        let in_flight = InFlight::begin(&self.activity);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody { body, _in_flight: in_flight }))
        })
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
#[derive(Debug)]
pub struct TrackedBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: HttpBody + Unpin> HttpBody for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(idle_timeout: Duration) -> Arc<Activity> {
        IdleService::new((), idle_timeout).activity
    }

    #[tokio::test(start_paused = true)]
    async fn idle_means_nothing_in_flight_since_the_deadline() {
        let activity = activity(Duration::from_secs(10));
        let started = Instant::now();
        assert_eq!(activity.idle_deadline(), Some(started + Duration::from_secs(10)));

        let first = InFlight::begin(&activity);
        let second = InFlight::begin(&activity);
        assert_eq!(activity.idle_deadline(), None, "busy while a request is in flight");
        tokio::time::advance(Duration::from_secs(30)).await;
        drop(first);
        assert_eq!(activity.idle_deadline(), None, "one request still runs");
        drop(second);
        assert_eq!(activity.idle_deadline(), Some(Instant::now() + Duration::from_secs(10)));
    }

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<&'static str>>>);

    impl Recorder {
        fn calls(&self) -> Vec<&'static str> {
            self.0.lock().unwrap().clone()
        }
    }

    impl Close for Recorder {
        fn gracefully(&self) {
            self.0.lock().unwrap().push("graceful");
        }

        fn now(&self) {
            self.0.lock().unwrap().push("now");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_asked_to_close_then_closed() {
        let activity = activity(Duration::from_secs(10));
        let recorder = Recorder::default();
        let watchdog = tokio::spawn(watchdog(Arc::downgrade(&activity), recorder.clone()));
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(recorder.calls().is_empty(), "not idle long enough yet");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(recorder.calls(), ["graceful"]);
        // It did not go: one idle period later it is closed outright.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(recorder.calls(), ["graceful", "now"]);
        watchdog.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_left_alone() {
        let activity = activity(Duration::from_secs(10));
        let recorder = Recorder::default();
        let _watchdog = tokio::spawn(watchdog(Arc::downgrade(&activity), recorder.clone()));
        let request = InFlight::begin(&activity);
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(recorder.calls().is_empty(), "a long request is not idleness");
        drop(request);
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(recorder.calls(), ["graceful"]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_ends_with_its_connection() {
        let activity = activity(Duration::from_secs(10));
        let recorder = Recorder::default();
        let watchdog = tokio::spawn(watchdog(Arc::downgrade(&activity), recorder.clone()));
        drop(activity);
        tokio::time::timeout(Duration::from_secs(60), watchdog)
            .await
            .expect("the watchdog stops once the connection is gone")
            .unwrap();
        assert!(recorder.calls().is_empty());
    }
}
