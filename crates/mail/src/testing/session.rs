//! One SMTP connection: the command loop (EHLO, AUTH, MAIL, RCPT, DATA, RSET, NOOP, QUIT), dot
//! unstuffing, and the faults the server was told to inject.

use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use super::{MAX_LINE_BYTES, MAX_MESSAGE_BYTES, ReceivedMail, Shared, Stage, decode};

#[derive(Default)]
pub(super) struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

pub(super) struct Session {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    idle_timeout: Option<Duration>,
    auth_user: Option<String>,
    transaction: Transaction,
}

pub(super) enum Line {
    Text(String),
    TooLong,
    Closed,
}

impl Session {
    pub(super) fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
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

    pub(super) async fn run(mut self) -> io::Result<()> {
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
pub(super) fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}
