//! Below the router: how connections are accepted and served. The HTTPS and the plain listener
//! are both built here, so HTTP/1.1 and HTTP/2 get the same deadlines and limits whichever
//! listener they arrive on.
//!
//! Per connection, outermost first:
//! - the TCP stream closes by lingering ([`linger`]), so a response is never cut short by a
//!   reset when the client still had input in flight;
//! - TLS (HTTPS listener), its handshake bounded by the header deadline;
//! - hyper: HTTP/1 header deadline, HTTP/2 keep-alive pings, header caps a little above the
//!   product limit that the edge enforces ([`crate::edge::header_limit`]);
//! - the idle watchdog ([`idle`]): no request in flight for the idle timeout closes it.

mod idle;
pub mod linger;
pub mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::{Handle, Server};
use tokio::net::TcpStream;

use crate::edge::header_limit::{MAX_HEADER_FIELDS, transport_cap};
pub use idle::{IdleService, TrackedBody};
pub use linger::LingeringStream;
use postroute_app::config::HttpConfig;

/// Serves `router` over TLS on `listener` until `handle` shuts it down.
pub fn serve_https(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    handle: Handle<SocketAddr>,
    router: Router,
    http: &HttpConfig,
) -> io::Result<impl Future<Output = io::Result<()>> + Send + 'static> {
    let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(tls))
        .handshake_timeout(Duration::from_secs(http.header_read_timeout_secs))
        .acceptor(ConnectionAcceptor::new(http));
    let server = configure(axum_server::from_tcp(listener)?.acceptor(acceptor), handle, http);
    Ok(server.serve(router.into_make_service_with_connect_info::<SocketAddr>()))
}

/// Serves `router` over plain HTTP on `listener` (behind a TLS-terminating proxy).
pub fn serve_plain(
    listener: std::net::TcpListener,
    handle: Handle<SocketAddr>,
    router: Router,
    http: &HttpConfig,
) -> io::Result<impl Future<Output = io::Result<()>> + Send + 'static> {
    let acceptor = ConnectionAcceptor::new(http);
    let server = configure(axum_server::from_tcp(listener)?.acceptor(acceptor), handle, http);
    Ok(server.serve(router.into_make_service_with_connect_info::<SocketAddr>()))
}

/// The protocol settings both listeners share.
fn configure<A>(
    server: Server<SocketAddr, A>,
    handle: Handle<SocketAddr>,
    http: &HttpConfig,
) -> Server<SocketAddr, A> {
    let header_timeout = Duration::from_secs(http.header_read_timeout_secs);
    let idle_timeout = Duration::from_secs(http.idle_timeout_secs);
    let cap = transport_cap(http.max_header_bytes);
    // Covers protocol detection and the first request of either version; after it, HTTP/1's
    // header deadline and the idle watchdog take over.
    let mut server = server.handle(handle).first_request_timeout(header_timeout);
    let builder = server.http_builder();
    builder
        .http1()
        // Runs while a request head arrives and while a kept-alive connection waits for the
        // next one.
        .header_read_timeout(header_timeout)
        // The read buffer is HTTP/1's cap on a request head; its default was ~400 KB.
        .max_buf_size(cap)
        .max_headers(MAX_HEADER_FIELDS * 2);
    builder
        .http2()
        .max_header_list_size(u32::try_from(cap).unwrap_or(u32::MAX))
        // A peer that vanished without closing (a pulled cable, a dead NAT entry) is found by
        // a ping nobody answers, even while a long upload keeps the connection busy.
        .keep_alive_interval(idle_timeout)
        .keep_alive_timeout(header_timeout);
    server
}

/// Wraps each accepted TCP stream so it closes by lingering, and each connection's service so
/// it closes when idle. Beneath TLS on the HTTPS listener, alone on the plain one.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionAcceptor {
    idle_timeout: Duration,
}

impl ConnectionAcceptor {
    /// The acceptor for the configured timeouts.
    pub fn new(http: &HttpConfig) -> Self {
        Self { idle_timeout: Duration::from_secs(http.idle_timeout_secs) }
    }
}

impl<S> Accept<TcpStream, S> for ConnectionAcceptor {
    type Stream = LingeringStream;
    type Service = IdleService<S>;
    type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        std::future::ready(Ok((
            LingeringStream::new(stream),
            IdleService::new(service, self.idle_timeout),
        )))
    }
}
