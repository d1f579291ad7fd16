//! Delivery through real TCP to `lodestar_mail::testing::SmtpServer`, and into the outbox folder.

use std::path::Path;
use std::time::Duration;

use lodestar_mail::testing::{ReceivedMail, SmtpServer, Stage};
use lodestar_mail::{
    DigestKpi, DigestSection, DigestSummary, DigestView, MailSettings, Mailer, MailerConfig,
    OutgoingMail, SendError, SendReport, SmtpConfig, Trend, digest_message_id, render_digest,
};

const WAIT: Duration = Duration::from_secs(5);
const SENDER: &str = "Lodestar <digests@lodestar.example.com>";
const RECIPIENT: &str = "ada@example.com";

fn smtp_mailer(url: &str) -> Mailer {
    let config = SmtpConfig {
        // Keep a broken test from hanging for lettre's default minute.
        timeout: Duration::from_secs(5),
        ..SmtpConfig::parse_url(url).expect("a valid SMTP URL")
    };
    Mailer::from_config(MailerConfig::Smtp(config), SENDER).expect("a mailer")
}

fn leads() -> DigestKpi {
    DigestKpi {
        name: "Leads".to_owned(),
        value: "412".to_owned(),
        previous: Some("390".to_owned()),
        change: Some("+5.6%".to_owned()),
        trend: Trend::Good,
        target: Some("Target 400 — met".to_owned()),
        bar_pct: 100.0,
        previous_bar_pct: Some(94.7),
    }
}

fn view() -> DigestView {
    DigestView {
        team_name: "Acme Growth".to_owned(),
        report_title: "Weekly".to_owned(),
        period_label: "Week 45, 2026 (Nov 2 – Nov 8)".to_owned(),
        period_key: "2026-W45".to_owned(),
        sections: vec![DigestSection {
            title: "Lead volume & quality".to_owned(),
            kpis: vec![leads()],
        }],
        share_url: "https://lodestar.example.com/s/abc".to_owned(),
        freshness: Some("Newest data: 2026-11-22 20:48 UTC".to_owned()),
        empty: false,
        explanations: Vec::new(),
        drivers: Vec::new(),
        summary: DigestSummary {
            headline: vec![leads()],
            ..DigestSummary::default()
        },
        period_noun: "week".to_owned(),
        manage_url: "https://lodestar.example.com/reports/weekly".to_owned(),
    }
}

fn digest_mail(view: &DigestView, to: &str) -> OutgoingMail {
    let (html, text, subject) = render_digest(view).expect("the digest renders");
    OutgoingMail {
        from: None,
        to: to.to_owned(),
        subject,
        html,
        text,
        message_id: digest_message_id(7, &view.period_key, to, "lodestar.example.com"),
        headers: Vec::new(),
    }
}

fn simple_mail(n: usize) -> OutgoingMail {
    OutgoingMail {
        from: None,
        to: RECIPIENT.to_owned(),
        subject: format!("Message {n}"),
        html: format!("<p>Message {n}</p>"),
        text: format!("Message {n}"),
        message_id: format!("<test.{n}@lodestar.example.com>"),
        headers: Vec::new(),
    }
}

fn part(mail: &ReceivedMail, content_type: &str) -> String {
    mail.parts()
        .into_iter()
        .find(|part| part.content_type == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in\n{}", mail.data))
        .body
}

#[tokio::test]
async fn a_digest_arrives_as_multipart_alternative_with_its_subject_and_deterministic_message_id() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = Mailer::new(&MailSettings {
        smtp_url: Some(server.url()),
        from: SENDER.to_owned(),
        outbox_dir: std::env::temp_dir().join("unused-outbox"),
    })
    .expect("a mailer");
    let mail = digest_mail(&view(), RECIPIENT);

    let report = mailer.send(&mail).await.expect("delivered");

    match &report {
        SendReport::Smtp { response } => assert_eq!(response, "250 2.0.0 Ok: queued as 1"),
        other => panic!("expected an SMTP report, got {other:?}"),
    }
    let received = server.wait_for(1, WAIT).await.expect("the message arrives");
    let got = &received[0];
    assert_eq!(got.from, "digests@lodestar.example.com");
    assert_eq!(got.to, vec![RECIPIENT.to_owned()]);
    assert_eq!(
        got.subject().as_deref(),
        Some("Weekly 2026-W45: Leads 412 (+5.6%)")
    );
    assert_eq!(
        got.header("From").as_deref(),
        Some("Lodestar <digests@lodestar.example.com>"),
        "the sender has a name"
    );
    let message_id = got.header("Message-ID").expect("a Message-ID");
    assert_eq!(message_id, mail.message_id);
    assert_eq!(
        message_id,
        digest_message_id(7, "2026-W45", "ADA@example.com", "lodestar.example.com")
    );
    assert!(
        got.header("Content-Type")
            .is_some_and(|ct| ct.starts_with("multipart/alternative")),
        "{}",
        got.data
    );
    let types: Vec<String> = got.parts().into_iter().map(|p| p.content_type).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    let text = part(got, "text/plain");
    assert!(
        text.contains("- Leads: 412 (+5.6%, better; previous week 390) — Target 400 — met"),
        "{text}"
    );
    let html = part(got, "text/html");
    assert!(
        html.contains(r#"href="https://lodestar.example.com/s/abc""#),
        "{html}"
    );
    assert!(html.contains("Lead volume &#38; quality"), "{html}");
}

#[tokio::test]
async fn a_451_is_transient_and_carries_the_server_text() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    server.reply_next(1, Stage::RcptTo, "451 4.3.0 Greylisted, try again later");

    let err = mailer.send(&simple_mail(1)).await.expect_err("greylisted");

    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().starts_with("451 "), "{err:?}");
    assert!(
        err.message().contains("Greylisted, try again later"),
        "{err:?}"
    );
    // The server takes it on the next attempt, on the same mailer.
    mailer
        .send(&simple_mail(1))
        .await
        .expect("delivered on retry");
    assert_eq!(server.wait_for(1, WAIT).await.expect("arrives").len(), 1);
}

#[tokio::test]
async fn a_451_after_data_is_transient_too() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    server.reply_next(1, Stage::EndOfData, "451 4.3.0 Queue file write error");

    let err = mailer.send(&simple_mail(1)).await.expect_err("not queued");

    assert_eq!(
        err,
        SendError::Transient {
            message: "451 4.3.0 Queue file write error".to_owned()
        }
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_550_is_permanent_with_its_code_and_the_server_text() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    server.reply_always(
        Stage::RcptTo,
        "550 5.1.1 <ada@example.com>: Recipient address rejected",
    );

    let err = mailer.send(&simple_mail(1)).await.expect_err("rejected");

    match &err {
        SendError::Permanent { code, message } => {
            assert_eq!(*code, Some(550));
            assert!(message.contains("Recipient address rejected"), "{message}");
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let server = SmtpServer::start().await.expect("server");
    let url = server.url();
    server.stop().await;
    drop(server);
    // Nothing listens on the port any more.
    let mailer = smtp_mailer(&url);

    let err = mailer
        .send(&simple_mail(1))
        .await
        .expect_err("nobody listens");

    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().to_lowercase().contains("refused"), "{err:?}");
}

#[tokio::test]
async fn a_server_that_accepts_and_never_greets_fails_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("smtp://{}", listener.local_addr().expect("an address"));
    // Accepts every connection and holds it open without a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let config = SmtpConfig {
        timeout: Duration::from_millis(500),
        ..SmtpConfig::parse_url(&url).expect("a valid SMTP URL")
    };
    let mailer = Mailer::from_config(MailerConfig::Smtp(config), SENDER).expect("a mailer");

    let started = std::time::Instant::now();
    let err = tokio::time::timeout(WAIT, mailer.send(&simple_mail(1)))
        .await
        .expect("the send is bounded")
        .expect_err("nobody greets");

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_timeout() && err.is_transient(), "{err:?}");
    assert_eq!(err.message(), "SMTP server did not answer within 0.5 s");
}

#[tokio::test]
async fn when_smtp_is_down_sends_fail_transiently_and_succeed_once_it_is_back_on_the_same_port() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    mailer
        .send(&simple_mail(1))
        .await
        .expect("delivered while up");

    server.stop().await;
    let err = mailer.send(&simple_mail(2)).await.expect_err("server down");
    assert!(err.is_transient(), "{err:?}");

    server.restart().await.expect("restart on the same port");
    mailer
        .send(&simple_mail(2))
        .await
        .expect("delivered once back");
    let received = server.wait_for(2, WAIT).await.expect("both arrive");
    assert_eq!(received[1].header("Subject").as_deref(), Some("Message 2"));
}

#[tokio::test]
async fn a_server_that_drops_every_connection_gives_a_transient_error() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    server.drop_connections(true);

    let err = mailer.send(&simple_mail(1)).await.expect_err("dropped");

    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn a_pooled_connection_the_server_closes_right_after_the_health_check_is_retried_once() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    mailer.send(&simple_mail(1)).await.expect("first message");
    // lettre parks the used connection from a spawned task: let it run.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.connections(), 1);

    // lettre sends NOOP before reusing a pooled connection; the server answers, then closes, so
    // MAIL FROM meets a dead socket ("incomplete response", lettre #743).
    server.close_after_next_noop(1);
    let report = mailer
        .send(&simple_mail(2))
        .await
        .expect("retried on a new connection");

    assert!(matches!(report, SendReport::Smtp { .. }), "{report:?}");
    assert_eq!(
        server.connections(),
        2,
        "the retry opened exactly one new connection"
    );
    let received = server.wait_for(2, WAIT).await.expect("both arrive");
    assert_eq!(received.len(), 2);
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_while_idle_does_not_fail_the_next_send() {
    let server = SmtpServer::start().await.expect("server");
    server.idle_timeout(Some(Duration::from_millis(150)));
    let mailer = smtp_mailer(&server.url());
    mailer.send(&simple_mail(1)).await.expect("first message");

    tokio::time::sleep(Duration::from_millis(400)).await;
    mailer
        .send(&simple_mail(2))
        .await
        .expect("second message after the server closed the idle connection");

    assert_eq!(
        server.wait_for(2, WAIT).await.expect("both arrive").len(),
        2
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn an_address_with_an_injected_bcc_header_is_rejected_before_anything_is_sent() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    let mail = OutgoingMail {
        to: "ada@example.com\r\nBcc: eve@evil.example".to_owned(),
        ..simple_mail(1)
    };

    let err = mailer.send(&mail).await.expect_err("injection");

    assert!(
        matches!(&err, SendError::Permanent { code: None, message } if message.contains("line break")),
        "{err:?}"
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn credentials_in_the_url_are_percent_decoded_and_used_for_auth() {
    let server = SmtpServer::start().await.expect("server");
    server.require_auth("me@example.com", "p:ss/w");
    let url = format!("smtp://me%40example.com:p%3Ass%2Fw@{}", server.addr());
    let mailer = smtp_mailer(&url);

    mailer.send(&simple_mail(1)).await.expect("authenticated");

    let received = server.wait_for(1, WAIT).await.expect("arrives");
    assert_eq!(received[0].auth_user.as_deref(), Some("me@example.com"));
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_error() {
    let server = SmtpServer::start().await.expect("server");
    server.require_auth("me@example.com", "right");
    let mailer = smtp_mailer(&format!("smtp://me%40example.com:wrong@{}", server.addr()));

    let err = mailer
        .send(&simple_mail(1))
        .await
        .expect_err("bad password");

    assert!(
        matches!(
            &err,
            SendError::Permanent {
                code: Some(535),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_delivered_digest_html_escapes_a_script_in_a_kpi_or_section_name() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    let mut view = view();
    view.sections[0].title = "<script>alert(1)</script>".to_owned();
    view.sections[0].kpis[0].name = "Leads <script>alert(2)</script>".to_owned();

    mailer
        .send(&digest_mail(&view, RECIPIENT))
        .await
        .expect("delivered");

    let received = server.wait_for(1, WAIT).await.expect("arrives");
    let html = part(&received[0], "text/html");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(
        html.contains("Leads &#60;script&#62;alert(2)&#60;/script&#62;"),
        "{html}"
    );
}

#[tokio::test]
async fn the_delivered_empty_digest_says_there_is_no_data() {
    let server = SmtpServer::start().await.expect("server");
    let mailer = smtp_mailer(&server.url());
    let view = DigestView {
        empty: true,
        sections: Vec::new(),
        ..view()
    };

    mailer
        .send(&digest_mail(&view, RECIPIENT))
        .await
        .expect("delivered");

    let received = server.wait_for(1, WAIT).await.expect("arrives");
    assert!(part(&received[0], "text/html").contains("No data for this period"));
    assert!(part(&received[0], "text/plain").contains("No data for this period"));
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the outbox exists")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn without_an_smtp_url_the_message_lands_in_the_outbox_as_an_eml_named_by_its_message_id() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let outbox = temp.path().join("outbox");
    let mailer = Mailer::new(&MailSettings {
        smtp_url: None,
        from: SENDER.to_owned(),
        outbox_dir: outbox.clone(),
    })
    .expect("a mailer");
    assert!(outbox.is_dir(), "the outbox is created up front");
    let mail = digest_mail(&view(), RECIPIENT);

    let report = mailer.send(&mail).await.expect("written");
    // Sending the same digest again replaces the file instead of adding one.
    mailer.send(&mail).await.expect("written again");

    let expected_name = format!(
        "{}.eml",
        mail.message_id
            .trim_start_matches('<')
            .trim_end_matches('>')
    );
    assert_eq!(
        report,
        SendReport::Outbox {
            path: outbox.join(&expected_name)
        }
    );
    assert_eq!(
        files_in(&outbox),
        std::slice::from_ref(&expected_name),
        "no temp files left"
    );
    let eml = std::fs::read_to_string(outbox.join(&expected_name)).expect("readable");
    assert!(
        eml.contains(&format!("Message-ID: {}", mail.message_id)),
        "{eml}"
    );
    assert!(eml.contains("Content-Type: multipart/alternative"), "{eml}");
    assert!(eml.contains("To: ada@example.com"), "{eml}");
}

#[tokio::test]
async fn an_unwritable_outbox_is_a_transient_error() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let outbox = temp.path().join("outbox");
    let mailer = Mailer::from_config(
        MailerConfig::Outbox {
            dir: outbox.clone(),
        },
        SENDER,
    )
    .expect("a mailer");
    // A file where the folder should be: the folder cannot be re-created.
    std::fs::remove_dir(&outbox).expect("remove the outbox");
    std::fs::write(&outbox, b"not a folder").expect("block the outbox path");

    let err = mailer
        .send(&simple_mail(1))
        .await
        .expect_err("cannot write");

    assert!(err.is_transient(), "{err:?}");
    assert!(err.message().contains("outbox"), "{err:?}");
}
