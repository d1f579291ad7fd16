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

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

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
    fn take_fault(&self, stage: Stage) -> Option<String> {
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

#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

struct Session {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    idle_timeout: Option<Duration>,
    auth_user: Option<String>,
    transaction: Transaction,
}

enum Line {
    Text(String),
    TooLong,
    Closed,
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
        let idle_timeout = shared.behaviour().idle_timeout;
        // Replies are whole lines written at once; Nagle would only add latency to each turn.
        let _ = stream.set_nodelay(true);
        let (read, writer) = stream.into_split();
        Self {
            reader: BufReader::new(read),
            writer,
            shared,
            idle_timeout,
            auth_user: None,
            transaction: Transaction::default(),
        }
    }

    async fn run(mut self) -> io::Result<()> {
        self.reply("220 lodestar-test ESMTP ready").await?;
        loop {
            let line = match self.idle_timeout {
                Some(timeout) => match tokio::time::timeout(timeout, self.read_line()).await {
                    Ok(line) => line?,
                    Err(_) => {
                        self.reply("421 4.4.2 lodestar-test Error: timeout exceeded")
                            .await?;
                        return Ok(());
                    }
                },
                None => self.read_line().await?,
            };
            let line = match line {
                Line::Text(line) => line,
                Line::TooLong => {
                    self.reply("500 5.5.2 Line too long").await?;
                    continue;
                }
                Line::Closed => return Ok(()),
            };
            let (verb, argument) = match line.split_once(' ') {
                Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim()),
                None => (line.to_ascii_uppercase(), ""),
            };
            match verb.as_str() {
                "EHLO" => self.ehlo(argument).await?,
                "HELO" => self.reply("250 lodestar-test").await?,
                "AUTH" => self.auth(argument).await?,
                "MAIL" => self.mail_from(argument).await?,
                "RCPT" => self.rcpt_to(argument).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.transaction = Transaction::default();
                    self.reply("250 2.0.0 Ok").await?;
                }
                "NOOP" => {
                    self.reply("250 2.0.0 Ok").await?;
                    let close = {
                        let mut behaviour = self.shared.behaviour();
                        let close = behaviour.close_after_noop > 0;
                        if close {
                            behaviour.close_after_noop -= 1;
                        }
                        close
                    };
                    if close {
                        return Ok(());
                    }
                }
                "QUIT" => {
                    self.reply("221 2.0.0 Bye").await?;
                    return Ok(());
                }
                _ => {
                    self.reply("502 5.5.2 Error: command not recognized")
                        .await?
                }
            }
        }
    }

    async fn read_line(&mut self) -> io::Result<Line> {
        let mut buffer = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut buffer)
            .await?;
        if read == 0 {
            return Ok(Line::Closed);
        }
        if !buffer.ends_with(b"\n") {
            if buffer.len() >= MAX_LINE_BYTES {
                // Skip the rest of the over-long line so the session can go on.
                let mut rest = Vec::new();
                self.reader.read_until(b'\n', &mut rest).await?;
                return Ok(Line::TooLong);
            }
            // EOF in the middle of a line.
            return Ok(Line::Closed);
        }
        let text = String::from_utf8_lossy(&buffer);
        Ok(Line::Text(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    async fn reply(&mut self, reply: &str) -> io::Result<()> {
        // One write per reply: a second small write would wait for the client's delayed ACK.
        self.writer
            .write_all(format!("{reply}\r\n").as_bytes())
            .await?;
        self.writer.flush().await
    }

    async fn ehlo(&mut self, client: &str) -> io::Result<()> {
        self.transaction = Transaction::default();
        let mut lines = vec![
            format!("lodestar-test greets {client}"),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            format!("SIZE {MAX_MESSAGE_BYTES}"),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if self.shared.behaviour().credentials.is_some() {
            lines.push("AUTH PLAIN".to_owned());
        }
        let last = lines.len() - 1;
        let reply: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| format!("250{}{line}", if i == last { ' ' } else { '-' }))
            .collect();
        self.reply(&reply.join("\r\n")).await
    }

    async fn auth(&mut self, argument: &str) -> io::Result<()> {
        let expected = self.shared.behaviour().credentials.clone();
        let Some((user, password)) = expected else {
            return self
                .reply("502 5.5.2 Error: authentication not enabled")
                .await;
        };
        let (mechanism, initial) = match argument.split_once(' ') {
            Some((mechanism, initial)) => (mechanism, Some(initial.trim().to_owned())),
            None => (argument, None),
        };
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            return self
                .reply("504 5.5.4 Unrecognized authentication type")
                .await;
        }
        let encoded = match initial {
            Some(initial) => initial,
            None => {
                self.reply("334 ").await?;
                match self.read_line().await? {
                    Line::Text(line) => line,
                    Line::TooLong | Line::Closed => return Ok(()),
                }
            }
        };
        let decoded = decode::base64(&encoded).unwrap_or_default();
        let mut fields = decoded.split(|&b| b == 0).skip(1);
        let given_user = fields
            .next()
            .map(|f| String::from_utf8_lossy(f).into_owned());
        let given_password = fields
            .next()
            .map(|f| String::from_utf8_lossy(f).into_owned());
        if given_user.as_deref() == Some(&user) && given_password.as_deref() == Some(&password) {
            self.auth_user = Some(user);
            self.reply("235 2.7.0 Authentication successful").await
        } else {
            self.reply("535 5.7.8 Authentication credentials invalid")
                .await
        }
    }

    async fn mail_from(&mut self, argument: &str) -> io::Result<()> {
        let needs_auth = self.shared.behaviour().credentials.is_some();
        if needs_auth && self.auth_user.is_none() {
            return self.reply("530 5.7.0 Authentication required").await;
        }
        if self.transaction.from.is_some() {
            return self.reply("503 5.5.1 Error: nested MAIL command").await;
        }
        let Some(address) = path_argument(argument, "FROM:") else {
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        if let Some(reply) = self.shared.take_fault(Stage::MailFrom) {
            return self.reply(&reply).await;
        }
        self.transaction.from = Some(address);
        self.reply("250 2.1.0 Ok").await
    }

    async fn rcpt_to(&mut self, argument: &str) -> io::Result<()> {
        if self.transaction.from.is_none() {
            return self.reply("503 5.5.1 Error: need MAIL command").await;
        }
        let Some(address) = path_argument(argument, "TO:").filter(|a| !a.is_empty()) else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if let Some(reply) = self.shared.take_fault(Stage::RcptTo) {
            return self.reply(&reply).await;
        }
        self.transaction.to.push(address);
        self.reply("250 2.1.5 Ok").await
    }

    async fn data(&mut self) -> io::Result<()> {
        if self.transaction.to.is_empty() {
            return self.reply("503 5.5.1 Error: need RCPT command").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut lines = Vec::new();
        let mut size = 0;
        loop {
            let line = match self.read_line().await? {
                Line::Text(line) => line,
                Line::TooLong => {
                    size = MAX_MESSAGE_BYTES + 1;
                    continue;
                }
                Line::Closed => return Ok(()),
            };
            if line == "." {
                break;
            }
            // RFC 5321 4.5.2: the client doubled every leading dot.
            let line = line.strip_prefix('.').map(str::to_owned).unwrap_or(line);
            size += line.len() + 2;
            if size <= MAX_MESSAGE_BYTES {
                lines.push(line);
            }
        }
        let transaction = std::mem::take(&mut self.transaction);
        if size > MAX_MESSAGE_BYTES {
            return self.reply("552 5.3.4 Message too big").await;
        }
        if let Some(reply) = self.shared.take_fault(Stage::EndOfData) {
            return self.reply(&reply).await;
        }
        let mail = ReceivedMail {
            from: transaction.from.unwrap_or_default(),
            to: transaction.to,
            data: lines.join("\r\n"),
            auth_user: self.auth_user.clone(),
        };
        let mut queued = 0;
        self.shared.received.send_modify(|received| {
            received.push(mail);
            queued = received.len();
        });
        self.reply(&format!("250 2.0.0 Ok: queued as {queued}"))
            .await
    }
}

/// `FROM:<a@b> SIZE=12` → `a@b`.
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_argument_is_read_without_brackets_or_parameters() {
        assert_eq!(
            path_argument("FROM:<a@example.com> BODY=8BITMIME", "FROM:"),
            Some("a@example.com".to_owned())
        );
        assert_eq!(
            path_argument("to: <b@example.com>", "TO:"),
            Some("b@example.com".to_owned())
        );
        assert_eq!(path_argument("FROM:<>", "FROM:"), Some(String::new()));
        assert_eq!(path_argument("FROM:a@example.com", "FROM:"), None);
        assert_eq!(path_argument("TO:<a@example.com>", "FROM:"), None);
    }

    async fn converse(server: &SmtpServer, script: &[&str]) -> Vec<String> {
        let stream = TcpStream::connect(server.addr()).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut replies = Vec::new();
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("greeting");
        replies.push(line.trim_end().to_owned());
        for command in script {
            write
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .expect("write");
            // DATA's body lines get no reply until the final dot.
            if command.starts_with(|c: char| c.is_ascii_uppercase()) || *command == "." {
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await.expect("read") == 0 {
                        return replies;
                    }
                    replies.push(line.trim_end().to_owned());
                    if line.as_bytes().get(3) != Some(&b'-') {
                        break;
                    }
                }
            }
        }
        replies
    }

    #[tokio::test]
    async fn the_server_unstuffs_dots_and_records_the_envelope() {
        let server = SmtpServer::start().await.expect("server");
        let replies = converse(
            &server,
            &[
                "EHLO client",
                "MAIL FROM:<a@example.com>",
                "RCPT TO:<b@example.com>",
                "DATA",
                "subject: x",
                "",
                "..leading dot",
                "plain",
                ".",
                "QUIT",
            ],
        )
        .await;
        assert!(
            replies.contains(&"250 2.0.0 Ok: queued as 1".to_owned()),
            "{replies:?}"
        );
        let mails = server.messages();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].from, "a@example.com");
        assert_eq!(mails[0].to, vec!["b@example.com".to_owned()]);
        assert_eq!(mails[0].data, "subject: x\r\n\r\n.leading dot\r\nplain");
        assert_eq!(mails[0].header("Subject"), Some("x".to_owned()));
    }

    #[tokio::test]
    async fn commands_out_of_order_are_refused() {
        let server = SmtpServer::start().await.expect("server");
        let replies = converse(
            &server,
            &[
                "RCPT TO:<b@example.com>",
                "DATA",
                "NOOP",
                "RSET",
                "BOGUS",
                "QUIT",
            ],
        )
        .await;
        assert_eq!(
            replies,
            [
                "220 lodestar-test ESMTP ready",
                "503 5.5.1 Error: need MAIL command",
                "503 5.5.1 Error: need RCPT command",
                "250 2.0.0 Ok",
                "250 2.0.0 Ok",
                "502 5.5.2 Error: command not recognized",
                "221 2.0.0 Bye",
            ]
        );
    }

    #[tokio::test]
    async fn a_scripted_reply_is_used_the_given_number_of_times() {
        let server = SmtpServer::start().await.expect("server");
        server.reply_next(1, Stage::RcptTo, "451 4.3.0 Try again later");
        let replies = converse(
            &server,
            &[
                "EHLO c",
                "MAIL FROM:<a@example.com>",
                "RCPT TO:<b@example.com>",
                "RCPT TO:<b@example.com>",
                "QUIT",
            ],
        )
        .await;
        assert!(
            replies.contains(&"451 4.3.0 Try again later".to_owned()),
            "{replies:?}"
        );
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.starts_with("250 2.1.5"))
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn a_stopped_server_refuses_connections_until_it_restarts_on_the_same_port() {
        let server = SmtpServer::start().await.expect("server");
        let addr = server.addr();
        server.stop().await;
        assert!(TcpStream::connect(addr).await.is_err());
        server.restart().await.expect("restart");
        assert_eq!(server.addr(), addr);
        let replies = converse(&server, &["QUIT"]).await;
        assert_eq!(replies, ["220 lodestar-test ESMTP ready", "221 2.0.0 Bye"]);
    }

    #[tokio::test]
    async fn wait_for_times_out_with_a_count_of_what_arrived() {
        let server = SmtpServer::start().await.expect("server");
        let err = server
            .wait_for(1, Duration::from_millis(50))
            .await
            .expect_err("nothing was sent");
        assert_eq!(err.received, 0);
        assert_eq!(err.wanted, 1);
    }
}
