//! Stopping without losing a request. On SIGTERM (or Ctrl-C) the server
//!
//! 1. stops accepting: later connection attempts are refused (a proxy or client moves to another
//!    replica), but connections the kernel already completed on the listener's queue are still
//!    taken and served. On Linux a socket filter drops new SYNs while the workers empty the
//!    queue, then the listener is shut down; the dropped SYNs' retries are refused. (Closing the
//!    listener at once, as actix-web does, resets the queued connections: their clients sent a
//!    request and get no answer.)
//! 2. answers every request on the connections it has: from now on each answer says
//!    `Connection: close`, and the server waits until every connection has closed (an idle
//!    keep-alive one at its keep-alive timeout), at most [`REQUEST_GRACE`];
//! 3. stops the HTTP workers, while the scheduler stops beside it (see `startup`).
//!
//! actix-web's own graceful stop is not used: it also drops connections accepted but not yet
//! read, and closes those whose request has arrived but not started.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{Error, web};

/// How long accepted requests get to finish after SIGTERM: under the 30 s a container
/// orchestrator waits before it kills.
pub const REQUEST_GRACE: Duration = Duration::from_secs(25);

/// How long the listener's queue of completed connections gets to empty.
const QUEUE_GRACE: Duration = Duration::from_secs(2);

/// How long no connection must be open before the workers stop.
const SETTLE: Duration = Duration::from_millis(500);

const POLL: Duration = Duration::from_millis(10);

/// Whether the server is stopping, and how many connections it has open.
#[derive(Debug, Default)]
pub struct Drain {
    draining: AtomicBool,
    open: AtomicUsize,
}

/// Kept in each connection's data: counts the connection open until it closes.
struct OpenConnection(Arc<Drain>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drain {
    /// `HttpServer::on_connect`: count the connection.
    pub fn on_connect(self: &Arc<Self>, ext: &mut Extensions) {
        self.open.fetch_add(1, Ordering::SeqCst);
        ext.insert(OpenConnection(Arc::clone(self)));
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits until no connection has been open for [`SETTLE`], at most `grace`; returns how
    /// many still are. (A connection the listener handed over counts from when a worker takes
    /// it: the quiet moment lets the workers take what was handed over last.)
    async fn until_closed(&self, grace: Duration) -> usize {
        let start = tokio::time::Instant::now();
        let mut quiet_since = start;
        loop {
            let now = tokio::time::Instant::now();
            if self.open() > 0 {
                quiet_since = now;
            } else if now - quiet_since >= SETTLE {
                return 0;
            }
            if now - start >= grace {
                return self.open();
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Middleware: once the server is stopping, every answer closes its connection.
pub async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let drain = req.app_data::<web::Data<Drain>>().cloned();
    let mut res = next.call(req).await?;
    if drain.is_some_and(|d| d.is_draining()) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// A second handle on the server's listening socket, to stop accepting on it.
pub struct Listening {
    socket: socket2::Socket,
    port: u16,
}

impl Listening {
    pub fn new(listener: &std::net::TcpListener) -> io::Result<Listening> {
        Ok(Listening {
            port: listener.local_addr()?.port(),
            socket: socket2::Socket::from(listener.try_clone()?),
        })
    }

    /// Refuses new connections once those already queued have been taken by the workers
    /// (`pause` stops the workers taking more, just before the listener is shut down).
    async fn stop(&self, pause: impl std::future::Future<Output = ()>) {
        #[cfg(target_os = "linux")]
        match self.socket.attach_filter(&DROP_NEW_CONNECTIONS) {
            Ok(()) => {
                let deadline = tokio::time::Instant::now() + QUEUE_GRACE;
                while queued(self.port).is_some_and(|n| n > 0)
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(POLL).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot hold new connections back while stopping"),
        }
        pause.await;
        // On Linux this stops the socket listening: connection attempts are refused from now on.
        // Elsewhere it may fail, and the listener closes when the workers stop.
        if let Err(e) = self.socket.shutdown(std::net::Shutdown::Both) {
            tracing::debug!(error = %e, "shutting the listener down");
        }
    }
}

/// Classic BPF on the listening socket, run on each TCP segment for it (the TCP header first):
/// drop a bare SYN (flags & (SYN|ACK) == SYN), a new connection attempt; keep the rest, so
/// handshakes already under way complete and are queued.
#[cfg(target_os = "linux")]
const DROP_NEW_CONNECTIONS: [socket2::SockFilter; 5] = [
    // ldb [13]: the TCP flags
    socket2::SockFilter::new(0x30, 0, 0, 13),
    // and #0x12: SYN | ACK
    socket2::SockFilter::new(0x54, 0, 0, 0x12),
    // jeq #0x02: a bare SYN → next (drop), else skip it (keep)
    socket2::SockFilter::new(0x15, 0, 1, 0x02),
    // ret #0: drop
    socket2::SockFilter::new(0x06, 0, 0, 0),
    // ret #-1: keep all of it
    socket2::SockFilter::new(0x06, 0, 0, u32::MAX),
];

/// Connections waiting on the listener of `port`: completed ones not yet taken by the workers
/// (a listener's receive queue in `/proc/net/tcp`) and handshakes under way (`SYN_RECV`).
/// `None` when the kernel does not say.
#[cfg(target_os = "linux")]
fn queued(port: u16) -> Option<usize> {
    const LISTEN: &str = "0A";
    const SYN_RECV: &str = "03";
    let mut n = 0;
    let mut read_any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        read_any = true;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(queues)) =
                (fields.get(1), fields.get(3), fields.get(4))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port != Some(port) {
                continue;
            }
            if *state == SYN_RECV {
                n += 1;
            } else if *state == LISTEN {
                let rx = queues
                    .split(':')
                    .nth(1)
                    .and_then(|q| usize::from_str_radix(q, 16).ok());
                n += rx.unwrap_or(0);
            }
        }
    }
    read_any.then_some(n)
}

/// Stops the HTTP server as the module says: stop accepting, wait for the open connections (at
/// most [`REQUEST_GRACE`], or until `force` resolves: a second signal), then stop the workers.
pub async fn stop_http(
    drain: &Drain,
    listening: Option<&Listening>,
    handle: &actix_web::dev::ServerHandle,
    force: impl std::future::Future<Output = ()>,
) {
    drain.draining.store(true, Ordering::SeqCst);
    if let Some(listening) = listening {
        listening.stop(handle.pause()).await;
    } else {
        handle.pause().await;
    }
    let left = tokio::select! {
        left = drain.until_closed(REQUEST_GRACE) => left,
        () = force => drain.open(),
    };
    if left > 0 {
        tracing::warn!(
            connections = left,
            "stopping with connections still open after the grace period"
        );
    }
    handle.stop(false).await;
}
