use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::session::path_argument;
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
