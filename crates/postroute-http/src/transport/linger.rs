//! A lingering close: when a connection ends, its socket is not closed at once but half-closed,
//! and whatever the client still sends is read and thrown away for a bounded time.
//!
//! Why: closing a TCP socket whose receive queue holds unread bytes makes the kernel answer
//! with a reset instead of a FIN, and a reset throws away whatever of the response was still
//! in our send queue (and, at the client, what it had not read yet). That happens whenever
//! hyper gives up on a connection with input pending: a request body the handler did not read
//! (hyper drains only what has already arrived), a refused oversize header, an idle close
//! while the client is still writing. The client then sees a response cut short followed by
//! `ECONNRESET`. Lingering lets the queued response and the FIN go out first and the client
//! read them; the connection ends when the client closes its side or the budget runs out.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// How long a closed connection may go on being drained. Long enough for a client to read a
/// response of a few hundred kilobytes; short enough that lingering sockets cannot pile up.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// How much unread input a closed connection may still swallow: a client pushing a large body
/// at a route that did not want it is not read to the end.
pub const LINGER_BYTES: usize = 1024 * 1024;

/// A TCP stream that, when dropped, hands its socket to a short-lived task that half-closes it
/// and drains the input (see the module comment).
#[derive(Debug)]
pub struct LingeringStream {
    /// Always `Some` until the stream is dropped.
    inner: Option<TcpStream>,
}

impl LingeringStream {
    /// Wraps an accepted connection.
    pub fn new(stream: TcpStream) -> Self {
        Self { inner: Some(stream) }
    }

    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match self.inner.as_mut() {
            Some(stream) => Ok(Pin::new(stream)),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

impl Drop for LingeringStream {
    fn drop(&mut self) {
        let Some(stream) = self.inner.take() else { return };
        // Outside a runtime (the process is ending) there is nobody to drain: close as usual.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream, LINGER_TIME, LINGER_BYTES));
        }
    }
}

/// Half-closes `stream` after what is queued, then reads and discards until the client closes,
/// `budget` bytes were discarded or `time` has passed; only then is the socket closed.
pub async fn linger(mut stream: TcpStream, time: Duration, budget: usize) {
    // The FIN follows any response bytes still in the send queue. A second shutdown after the
    // TLS layer's own is harmless; its error (not connected) is no reason to stop.
    let _ = stream.shutdown().await;
    let drain = async {
        let mut scratch = [0u8; 8 * 1024];
        let mut discarded = 0usize;
        while discarded < budget {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(read) => discarded += read,
            }
        }
    };
    let _ = tokio::time::timeout(time, drain).await;
}

impl AsyncRead for LingeringStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_read(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl AsyncWrite for LingeringStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_write_vectored(cx, bufs),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_flush(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => stream.poll_shutdown(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    /// The situation that cut responses short: the server answers and closes while input it
    /// never read is waiting. With a plain close the client's read ends in a reset, often before
    /// the whole answer; after a lingering close it gets every byte and then a FIN.
    #[tokio::test]
    async fn an_answer_closed_over_unread_input_arrives_whole() {
        let (server, mut client) = pair().await;
        let mut server = LingeringStream::new(server);
        client.write_all(&[b'u'; 64 * 1024]).await.unwrap();
        let mut first = [0u8; 1];
        server.read_exact(&mut first).await.unwrap();
        let answer = vec![b'a'; 512 * 1024];
        let expected = answer.len();
        let writer = tokio::spawn(async move {
            server.write_all(&answer).await.unwrap();
            drop(server);
        });
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.expect("a FIN, not a reset");
        writer.await.unwrap();
        assert_eq!(received.len(), expected);
    }

    #[tokio::test]
    async fn a_client_that_never_stops_sending_is_cut_off_by_the_byte_budget() {
        let (server, mut client) = pair().await;
        let lingering = tokio::spawn(linger(server, Duration::from_secs(3600), 64 * 1024));
        let flood = tokio::spawn(async move {
            let chunk = [b'f'; 16 * 1024];
            while client.write_all(&chunk).await.is_ok() {}
        });
        tokio::time::timeout(Duration::from_secs(30), lingering)
            .await
            .expect("lingering ends once the budget is read")
            .unwrap();
        flood.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_neither_sends_nor_closes_is_cut_off_by_the_time_limit() {
        let (server, _silent_client) = pair().await;
        let started = tokio::time::Instant::now();
        linger(server, LINGER_TIME, LINGER_BYTES).await;
        assert!(started.elapsed() >= LINGER_TIME);
    }
}
