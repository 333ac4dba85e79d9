// keyward's addition to dropshot (see vendor/README.md): limits on the
// connections of a plain-HTTP server, which dropshot 0.18 does not offer and
// cannot be added from outside, since it owns the accept loop.
//
// - A connection must send a complete request head within `request_timeout`
//   of being accepted, and later ones within `request_timeout` of their
//   first byte. Without this a silent connection waits forever in hyper's
//   protocol detection.
// - A connection with no request in flight closes after `idle_timeout`:
//   hyper's own header read timeout, which restarts when a connection goes
//   idle (and makes hyper read again after every response).
// - A write that makes no progress for `request_timeout` closes the
//   connection (a client that never reads its answer).
// - At most `max_connections` are open. Past that, the oldest connection
//   with no request in flight is closed to make room; when every one is
//   serving a request, the new connection is closed at once. Connections
//   being served are never starved by ones that only hold a socket.
//
// A request body that stops half-way is the application's to time out: it
// can still answer (408), which a closed socket cannot.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// Limits on a server's connections; see [`crate::ServerBuilder::connection_limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request head.
    pub request_timeout: Duration,
    /// How long a connection with no request in flight stays open.
    pub idle_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}

/// What the accept loop and the request handler share about one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnectionState {
    in_flight: AtomicUsize,
    /// Requests started so far: tells the stream that one came and went
    /// even if it never saw it in flight.
    started: AtomicUsize,
    closed: AtomicBool,
    evict: Notify,
}

impl ConnectionState {
    /// Marks a request in flight until the guard is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Resolves when the connection has been chosen to make room.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await
    }
}

/// A request in flight on a connection.
pub(crate) struct InFlight(Arc<ConnectionState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a server tells its owner of each finished request and each
/// connection (keyward's addition, for its metrics). Called on the request's
/// task: keep it cheap.
pub trait ServerObserver: Send + Sync + std::fmt::Debug + 'static {
    /// A request was answered (or its client went away: status 499).
    /// `operation_id` is `None` when no route matched.
    fn request_done(
        &self,
        operation_id: Option<&str>,
        status: u16,
        latency: Duration,
    );

    /// The number of open connections changed to `open`.
    fn connections_open(&self, _open: usize) {}

    /// A connection was refused at the cap.
    fn connection_refused(&self) {}
}

/// The open connections of a server, oldest first.
#[derive(Debug)]
pub(crate) struct Connections {
    pub(crate) limits: ConnectionLimits,
    open: AtomicUsize,
    // Closed entries are dropped lazily, when the list has grown to twice
    // the open count, so that admission stays O(1) amortized.
    by_age: Mutex<VecDeque<Arc<ConnectionState>>>,
}

/// An admitted connection; dropping it counts the connection as closed.
pub(crate) struct Admitted {
    pub(crate) state: Arc<ConnectionState>,
    connections: Arc<Connections>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::Release);
        self.connections.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Connections {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Connections> {
        Arc::new(Connections {
            limits,
            open: AtomicUsize::new(0),
            by_age: Mutex::new(VecDeque::new()),
        })
    }

    /// How many connections are open.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Admits a new connection, evicting the oldest idle one if the server
    /// is full. `None`: every open connection is serving a request, and the
    /// new one must be closed at once.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut by_age = match self.by_age.lock() {
            Ok(by_age) => by_age,
            Err(poisoned) => poisoned.into_inner(),
        };
        if self.open() >= self.limits.max_connections.max(1) {
            by_age.retain(|c| !c.closed.load(Ordering::Acquire));
            let idle = by_age.iter().position(|c| !c.busy())?;
            if let Some(oldest_idle) = by_age.remove(idle) {
                oldest_idle.closed.store(true, Ordering::Release);
                oldest_idle.evict.notify_one();
            }
        }
        if by_age.len() > 2 * self.open() + 64 {
            by_age.retain(|c| !c.closed.load(Ordering::Acquire));
        }
        let state = Arc::new(ConnectionState::default());
        by_age.push_back(Arc::clone(&state));
        self.open.fetch_add(1, Ordering::AcqRel);
        Some(Admitted { state, connections: Arc::clone(self) })
    }
}

/// A TCP stream that enforces [`ConnectionLimits`]' deadlines.
pub(crate) struct GuardedStream {
    stream: TcpStream,
    state: Arc<ConnectionState>,
    limits: ConnectionLimits,
    /// When the connection must have read a request head; `None` while it
    /// waits idle (hyper times that out) or serves a request.
    read_deadline: Option<Instant>,
    /// Whether `read_deadline` already counts the request timeout of a
    /// request whose first bytes have arrived.
    request_started: bool,
    /// `ConnectionState::started` when last looked at.
    seen_started: usize,
    /// Set while a write is blocked.
    write_deadline: Option<Instant>,
    /// One timer for both deadlines. It may be armed earlier than the
    /// deadline it serves (re-arming on every request would cost a timer
    /// update per request); when it fires early it is armed again.
    timer: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    pub(crate) fn new(
        stream: TcpStream,
        state: Arc<ConnectionState>,
        limits: ConnectionLimits,
    ) -> GuardedStream {
        GuardedStream {
            stream,
            state,
            limits,
            // A new connection owes its first request within the request timeout.
            read_deadline: Some(Instant::now() + limits.request_timeout),
            request_started: true,
            seen_started: 0,
            write_deadline: None,
            timer: None,
        }
    }

    /// Whether `deadline` has passed; otherwise arranges a wake-up for it.
    fn expired(&mut self, cx: &mut Context<'_>, deadline: Instant) -> bool {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if timer.deadline() > deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= deadline {
                return true;
            }
            // Fired for an earlier deadline that no longer applies.
            timer.as_mut().reset(deadline);
        }
    }

    fn timed_out(what: &str) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, what.to_string())
    }

    fn write_result<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match result {
            Poll::Pending => {
                let deadline = *self
                    .write_deadline
                    .get_or_insert_with(|| Instant::now() + self.limits.request_timeout);
                if self.expired(cx, deadline) {
                    return Poll::Ready(Err(Self::timed_out("the client stopped reading")));
                }
                Poll::Pending
            }
            ready => {
                self.write_deadline = None;
                ready
            }
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let busy = this.state.busy();
        let started = this.state.started.load(Ordering::Acquire);
        if busy || started != this.seen_started {
            // Serving a request, or done with one: the next request's clock
            // starts at its first byte.
            this.read_deadline = None;
            this.request_started = false;
        }
        this.seen_started = started;
        let filled = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if !busy && !this.request_started && buf.filled().len() > filled {
                    // The first bytes of a request: its head is due soon.
                    this.read_deadline = Some(Instant::now() + this.limits.request_timeout);
                    this.request_started = true;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match Option::clone(&this.read_deadline) {
                Some(deadline) if this.expired(cx, deadline) => {
                    Poll::Ready(Err(Self::timed_out("no complete request in time")))
                }
                _ => Poll::Pending,
            },
            error => error,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, data);
        self.write_result(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.write_result(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.write_result(cx, result)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
