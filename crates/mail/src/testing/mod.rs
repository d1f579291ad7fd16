//! A real SMTP server on 127.0.0.1 for tests (feature `testing`): it speaks SMTP over TCP to
//! lettre (or anything else), records what it receives, and can be told to misbehave the ways
//! real servers do: 4xx/5xx replies, dropped connections, closing a connection after the NOOP a
//! connection pool uses as a health check, idle timeouts, going down and coming back on the
//! same port.

mod decode;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

mod session;
use session::Session;

pub use decode::MimePart;

/// Biggest message the server takes; larger ones get `552`.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, lines joined by CRLF.
    pub data: String,
    /// The user the session authenticated as, if it did.
    pub auth_user: Option<String>,
}

impl ReceivedMail {
    /// The first top-level header of that name (case-insensitive), unfolded, not decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        decode::header(decode::split_head(&self.data).0, name)
    }

    /// The Subject, with RFC 2047 encoded words decoded.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject").map(|s| decode::encoded_words(&s))
    }

    /// The leaf parts in order (the message itself when it is not multipart), bodies decoded
    /// from quoted-printable or base64.
    pub fn parts(&self) -> Vec<MimePart> {
        decode::parts(&self.data)
    }
}

/// Where in a transaction a scripted reply replaces the normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    MailFrom,
    RcptTo,
    /// After the message's final dot: the server has read the message but does not take it.
    EndOfData,
}

/// The server ran out of time before enough messages arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimeout {
    pub wanted: usize,
    pub received: usize,
    pub timeout: Duration,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "only {} of {} messages arrived within {:?}",
            self.received, self.wanted, self.timeout
        )
    }
}

impl std::error::Error for WaitTimeout {}

#[derive(Debug, Clone)]
struct Fault {
    stage: Stage,
    reply: String,
    /// `None`: every time.
    remaining: Option<usize>,
}

#[derive(Debug, Default)]
struct Behaviour {
    faults: Vec<Fault>,
    drop_connections: bool,
    close_after_noop: usize,
    idle_timeout: Option<Duration>,
    credentials: Option<(String, String)>,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    received: watch::Sender<Vec<ReceivedMail>>,
    connections: AtomicUsize,
}

impl Shared {
    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        // A panicking test thread must not take every later assertion down with it.
        self.behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The scripted reply for this stage, if one is due, counting it down.
    pub(super) fn take_fault(&self, stage: Stage) -> Option<String> {
        let mut behaviour = self.behaviour();
        let fault = behaviour.faults.iter_mut().find(|fault| {
            fault.stage == stage && fault.remaining.is_none_or(|remaining| remaining > 0)
        })?;
        if let Some(remaining) = &mut fault.remaining {
            *remaining -= 1;
        }
        Some(fault.reply.clone())
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// See the module documentation. Dropping the server stops it.
pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl SmtpServer {
    /// Binds 127.0.0.1 on a free port and starts accepting connections.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let server = Self {
            addr: listener.local_addr()?,
            shared: Arc::new(Shared {
                behaviour: Mutex::new(Behaviour::default()),
                received: watch::Sender::new(Vec::new()),
                connections: AtomicUsize::new(0),
            }),
            running: Mutex::new(None),
        };
        server.run(listener);
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`, ready for `LODESTAR_SMTP__URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.received.borrow().clone()
    }

    /// Waits until at least `n` messages have arrived and returns all of them.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMail>, WaitTimeout> {
        let mut receiver = self.shared.received.subscribe();
        let waited = tokio::time::timeout(timeout, receiver.wait_for(|mails| mails.len() >= n));
        match waited.await {
            Ok(Ok(mails)) => Ok(mails.clone()),
            _ => Err(WaitTimeout {
                wanted: n,
                received: self.shared.received.borrow().len(),
                timeout,
            }),
        }
    }

    /// TCP connections accepted so far (including dropped ones).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Answers the next `n` transactions that reach `stage` with `reply`, e.g.
    /// `"451 4.3.0 Try again later"`.
    pub fn reply_next(&self, n: usize, stage: Stage, reply: &str) {
        self.shared.behaviour().faults.push(Fault {
            stage,
            reply: reply.to_owned(),
            remaining: Some(n),
        });
    }

    /// Answers every transaction that reaches `stage` with `reply`, e.g.
    /// `"550 5.1.1 Mailbox unavailable"`, until [`Self::clear_faults`].
    pub fn reply_always(&self, stage: Stage, reply: &str) {
        self.shared.behaviour().faults.push(Fault {
            stage,
            reply: reply.to_owned(),
            remaining: None,
        });
    }

    pub fn clear_faults(&self) {
        self.shared.behaviour().faults.clear();
    }

    /// While on, every new connection is closed at once, before the greeting.
    pub fn drop_connections(&self, on: bool) {
        self.shared.behaviour().drop_connections = on;
    }

    /// The next `n` NOOPs are answered `250` and then the connection is closed: a server whose
    /// idle timeout fires right after a pool's health check (the race behind lettre #743).
    pub fn close_after_next_noop(&self, n: usize) {
        self.shared.behaviour().close_after_noop = n;
    }

    /// Sessions idle longer than this get `421` and are closed, as Postfix's smtpd_timeout does.
    /// Applies to sessions that start afterwards.
    pub fn idle_timeout(&self, timeout: Option<Duration>) {
        self.shared.behaviour().idle_timeout = timeout;
    }

    /// Requires `AUTH PLAIN` with these credentials before `MAIL FROM`.
    pub fn require_auth(&self, user: &str, password: &str) {
        self.shared.behaviour().credentials = Some((user.to_owned(), password.to_owned()));
    }

    /// Stops listening and closes every open session; connecting is refused until
    /// [`Self::restart`]. Received messages and settings are kept.
    pub async fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { stop, task }) = running {
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    /// Listens again on the same port ("SMTP down, then up").
    pub async fn restart(&self) -> io::Result<()> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await?;
        self.run(listener);
        Ok(())
    }

    fn run(&self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&self.shared), stopped));
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(Running { stop, task });
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { task, .. }) = running {
            // Aborting the accept loop drops its JoinSet, which aborts every session.
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors or the like: let the next accept try again.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                if shared.behaviour().drop_connections {
                    drop(stream);
                    continue;
                }
                let shared = Arc::clone(&shared);
                sessions.spawn(async move {
                    // A session ends on a client's error as often as on QUIT; neither matters here.
                    let _ = Session::new(stream, shared).run().await;
                });
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    sessions.shutdown().await;
}

#[cfg(test)]
mod tests;
