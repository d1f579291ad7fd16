use super::*;

fn kpi(name: &str, value: &str, change: Option<&str>, trend: Trend, bar_pct: f64) -> DigestKpi {
    DigestKpi {
        name: name.to_owned(),
        value: value.to_owned(),
        change: change.map(str::to_owned),
        trend,
        bar_pct,
        ..DigestKpi::default()
    }
}

fn leads() -> DigestKpi {
    DigestKpi {
        target: Some("Target 400 — met".to_owned()),
        previous: Some("390".to_owned()),
        previous_bar_pct: Some(95.0),
        ..kpi("Leads", "412", Some("+5.6%"), Trend::Good, 100.0)
    }
}

fn mql_rate() -> DigestKpi {
    DigestKpi {
        previous: Some("33.1%".to_owned()),
        previous_bar_pct: Some(100.0),
        ..kpi("MQL rate", "31.0%", Some("-2.1 pp"), Trend::Bad, 31.0)
    }
}

fn cpl() -> DigestKpi {
    DigestKpi {
        target: Some("Target ≤ $40.00 — missed".to_owned()),
        ..kpi("Cost per lead", "$48.20", None, Trend::None, 100.0)
    }
}

fn view() -> DigestView {
    DigestView {
        team_name: "Acme Growth".to_owned(),
        report_title: "Weekly".to_owned(),
        period_label: "Week 45, 2026 (Nov 2 – Nov 8)".to_owned(),
        period_key: "2026-W45".to_owned(),
        sections: vec![
            DigestSection {
                title: "Lead volume & quality".to_owned(),
                kpis: vec![leads(), mql_rate()],
            },
            DigestSection {
                title: "Spend efficiency".to_owned(),
                kpis: vec![cpl()],
            },
        ],
        share_url: "https://lodestar.example.com/reports/weekly?period=2026-W45&share=abc"
            .to_owned(),
        freshness: Some("Newest data: 2026-11-22 20:48 UTC".to_owned()),
        empty: false,
        explanations: vec!["CPL by region needs spend with attrs.region".to_owned()],
        drivers: vec![DigestDriver {
            sentence: "Won revenue −12.0%: leads −5.0%, deal size +2.0%".to_owned(),
            bars: vec![
                bar("Won revenue", "−12.0%", Trend::Bad, 100.0, true),
                bar("leads", "−5.0%", Trend::Bad, 42.0, false),
                bar("deal size", "+2.0%", Trend::Good, 17.0, false),
            ],
        }],
        summary: DigestSummary {
            headline: vec![leads(), cpl()],
            movers: vec![mql_rate()],
            missed: vec![cpl()],
        },
        period_noun: "week".to_owned(),
        manage_url: "https://lodestar.example.com/reports/weekly".to_owned(),
    }
}

fn bar(label: &str, text: &str, trend: Trend, length_pct: f64, total: bool) -> DigestBar {
    DigestBar {
        label: label.to_owned(),
        text: text.to_owned(),
        trend,
        length_pct,
        negative: text.starts_with('−'),
        total,
    }
}

/// The HTML between `from` and the next `to`.
fn between<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
    let start = html
        .find(from)
        .unwrap_or_else(|| panic!("no {from:?} in\n{html}"));
    let rest = &html[start..];
    &rest[..rest.find(to).unwrap_or(rest.len())]
}

#[test]
fn why_it_changed_shows_each_sentence_and_signed_bars_in_both_parts() {
    let (html, text, _) = render(&view());
    assert!(html.contains("Why it changed"), "{html}");
    assert!(
        html.contains("Won revenue −12.0%: leads −5.0%, deal size +2.0%"),
        "{html}"
    );
    // A fall fills the left half from the axis outwards, a rise the right half.
    let leads = between(&html, ">leads</td>", "</tr></table>\n      </td></tr>");
    let halves: Vec<&str> = leads.split("border-left:1px solid #57606a").collect();
    assert_eq!(halves.len(), 2, "{leads}");
    assert!(halves[0].contains("width:42%") && !halves[1].contains("width:42%"));
    assert!(halves[0].contains("background-color:#cf222e"), "{leads}");
    let size = between(&html, ">deal size</td>", "</tr></table>\n      </td></tr>");
    let halves: Vec<&str> = size.split("border-left:1px solid #57606a").collect();
    assert!(
        halves[1].contains("width:17%") && halves[1].contains("#2da44e"),
        "{size}"
    );
    assert!(!halves[0].contains("width:17%"), "{size}");
    // Text: under its heading, after the KPIs.
    let at = text
        .find("Why it changed")
        .expect("a heading in the text part");
    assert!(
        text[at..].contains("- Won revenue −12.0%: leads −5.0%, deal size +2.0%"),
        "{text}"
    );
    assert!(at > text.find("Cost per lead").expect("the KPIs"), "{text}");
}

#[test]
fn a_blocked_explanation_is_a_sentence_without_bars_and_an_empty_digest_explains_nothing() {
    let mut v = view();
    v.drivers = vec![DigestDriver {
        sentence: "CAC: cannot attribute: customers won is 0 in this period".to_owned(),
        bars: Vec::new(),
    }];
    let (html, text, _) = render(&v);
    assert!(
        html.contains("cannot attribute: customers won is 0"),
        "{html}"
    );
    assert!(!html.contains("border-left:1px solid #57606a"), "{html}");
    assert!(text.contains("- CAC: cannot attribute"), "{text}");
    let (html, text, _) = render(&DigestView {
        empty: true,
        ..view()
    });
    assert!(!html.contains("Why it changed") && !text.contains("Why it changed"));
}

fn render(view: &DigestView) -> (String, String, String) {
    render_digest(view).expect("the digest renders")
}

#[test]
fn the_subject_carries_the_report_the_period_and_the_headline_numbers() {
    let (_, _, subject) = render(&view());
    assert_eq!(
        subject,
        "Weekly 2026-W45: Leads 412 (+5.6%), Cost per lead $48.20"
    );
}

#[test]
fn a_long_subject_keeps_the_first_headline_numbers_and_says_it_left_some_out() {
    let mut v = view();
    v.summary.headline = (1..=8)
        .map(|i| {
            kpi(
                &format!("KPI number {i}"),
                "$12,345",
                Some("-12.3%"),
                Trend::Bad,
                1.0,
            )
        })
        .collect();
    let subject = digest_subject(&v);
    assert!(subject.chars().count() <= SUBJECT_BUDGET + 2, "{subject}");
    assert!(
        subject.starts_with("Weekly 2026-W45: KPI number 1 $12,345 (-12.3%), KPI number 2"),
        "{subject}"
    );
    assert!(subject.ends_with(" …"), "{subject}");
    // One headline KPI always goes in, however long.
    v.summary.headline = vec![kpi(&"Long ".repeat(30), "1", None, Trend::None, 1.0)];
    assert!(digest_subject(&v).contains("Long Long"));
}

#[test]
fn a_subject_never_carries_a_line_break() {
    let mut v = view();
    v.report_title = "Weekly\r\nBcc: eve@evil.example".to_owned();
    v.summary.headline[0].name = "Leads\n\tnew".to_owned();
    let subject = digest_subject(&v);
    assert!(!subject.chars().any(char::is_control), "{subject}");
    assert!(
        subject.starts_with("Weekly Bcc: eve@evil.example 2026-W45: Leads new 412"),
        "{subject}"
    );
}

#[test]
fn an_empty_digest_says_so_in_the_subject() {
    let v = DigestView {
        empty: true,
        ..view()
    };
    assert_eq!(digest_subject(&v), "Weekly 2026-W45: no data");
}

#[test]
fn a_hidden_preheader_leads_the_body_with_the_headline_numbers() {
    let (html, _, _) = render(&view());
    let body = &html[html.find("<body").expect("a body")..];
    let first = between(body, "<div", "</div>");
    assert!(first.contains("display:none"), "{first}");
    assert!(
        first.contains("max-height:0") && first.contains("opacity:0"),
        "{first}"
    );
    assert!(
        first.contains(
            "Acme Growth · Week 45, 2026 (Nov 2 – Nov 8) · Leads 412 (+5.6%), Cost per lead \
             $48.20 · Biggest moves: MQL rate 31.0% (-2.1 pp) · Target missed: Cost per lead"
        ),
        "{first}"
    );
    // Filler after the text keeps inbox lists from running on into the body.
    assert!(first.contains("&zwnj;&nbsp;"), "{first}");
    assert!(
        body.find("View in browser") > body.find("Biggest moves"),
        "the preheader comes before anything visible"
    );
    let mut v = view();
    v.team_name = "<b>Acme</b>".to_owned();
    let (html, _, _) = render(&v);
    assert!(
        html.contains("&#60;b&#62;Acme&#60;/b&#62; · Week 45"),
        "{html}"
    );
}

#[test]
fn the_summary_comes_before_the_full_list_in_both_parts() {
    let (html, text, _) = render(&view());
    let glance = html.find("At a glance").expect("a summary");
    let list = html.find("Lead volume &#38; quality").expect("the list");
    assert!(glance < list);
    let summary = &html[glance..list];
    for needle in [
        "Headline KPIs",
        "Biggest moves",
        "Targets missed",
        "MQL rate",
        "-2.1 pp",
        "previous week 33.1%",
        "Target ≤ $40.00 — missed",
    ] {
        assert!(
            summary.contains(needle),
            "no {needle:?} in
{summary}"
        );
    }
    let expected = [
        "Headline KPIs",
        "- Leads: 412 (+5.6%, better; previous week 390) — Target 400 — met",
        "- Cost per lead: $48.20 — Target ≤ $40.00 — missed",
        "Biggest moves",
        "- MQL rate: 31.0% (-2.1 pp, worse; previous week 33.1%)",
        "Targets missed",
        "- Cost per lead: $48.20",
        "Lead volume & quality",
    ];
    let mut rest = text.as_str();
    for line in expected {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("missing or out of order {line:?} in\n{text}"));
        rest = &rest[at + line.len()..];
    }
    // No summary: straight to the list.
    let (html, text, _) = render(&DigestView {
        summary: DigestSummary::default(),
        ..view()
    });
    assert!(!html.contains("At a glance") && !text.contains("Headline KPIs"));
}

#[test]
fn each_kpi_shows_its_previous_value_and_labelled_bars_for_both_periods() {
    let (html, _, _) = render(&view());
    let list = &html[html.find("Lead volume &#38; quality").expect("the list")..];
    let leads = between(list, ">Leads</td>", ">MQL rate</td>");
    assert!(leads.contains(">412</td>"), "{leads}");
    assert!(leads.contains("previous week 390"), "{leads}");
    assert!(leads.contains("+5.6% better"), "{leads}");
    // Each bar says what it shows.
    let now = between(leads, ">This week</td>", "</tr></table>");
    assert!(
        now.contains("width:100%;height:8px") && now.contains("#2da44e"),
        "{now}"
    );
    let before = between(leads, ">Previous week</td>", "</tr></table>");
    assert!(
        before.contains("width:95%;") && before.contains("#afb8c1"),
        "{before}"
    );
    // Without a previous value there is one bar, for this week, and no "previous".
    let cpl = between(list, ">Cost per lead</td>", "Why it changed");
    assert!(cpl.contains(">This week</td>"), "{cpl}");
    assert!(
        !cpl.contains("Previous week") && !cpl.contains("previous week"),
        "{cpl}"
    );
}

#[test]
fn the_footer_links_to_where_the_email_is_managed() {
    let (html, text, _) = render(&view());
    let footer = &html[html.find("Sent by Lodestar").expect("a footer")..];
    assert!(
        footer.contains(r#"<a href="https://lodestar.example.com/reports/weekly""#)
            && footer.contains("Manage this e-mail"),
        "{footer}"
    );
    assert!(
        text.contains("Manage this e-mail: https://lodestar.example.com/reports/weekly"),
        "{text}"
    );
    let (html, _, _) = render(&DigestView {
        manage_url: "javascript:alert(1)".to_owned(),
        ..view()
    });
    assert!(!html.contains("Manage this e-mail"), "{html}");
}

#[test]
fn the_html_shows_every_kpi_with_its_change_target_and_bar() {
    let (html, _, _) = render(&view());
    for needle in [
        "Acme Growth",
        "Lead volume &#38; quality",
        "Leads",
        "412",
        "+5.6%",
        "Target 400 — met",
        "MQL rate",
        "Cost per lead",
        "Newest data: 2026-11-22 20:48 UTC",
        "CPL by region needs spend with attrs.region",
        "width:95%",
        "width:31%",
        "background-color:#2da44e",
        "background-color:#cf222e",
    ] {
        assert!(html.contains(needle), "missing {needle:?} in\n{html}");
    }
    assert!(!html.contains("No data for this period"));
}

#[test]
fn the_html_links_to_the_browser_view_with_an_escaped_url() {
    let (html, _, _) = render(&view());
    assert!(
        html.contains(
            r#"href="https://lodestar.example.com/reports/weekly?period=2026-W45&#38;share=abc""#
        ),
        "{html}"
    );
    assert!(html.contains("View in browser"));
}

#[test]
fn a_javascript_share_url_is_not_linked() {
    let (html, text, _) = render(&DigestView {
        share_url: "javascript:alert(1)".to_owned(),
        ..view()
    });
    assert!(!html.contains("javascript:"), "{html}");
    assert!(!html.contains("View in browser"), "{html}");
    assert!(!text.contains("javascript:"), "{text}");
}

#[test]
fn the_html_escapes_a_script_in_a_kpi_or_section_name() {
    let mut view = view();
    view.sections[0].title = "<script>alert(1)</script>".to_owned();
    view.sections[0].kpis[0].name = "<script>alert(2)</script>".to_owned();
    view.team_name = "<b>Acme</b>".to_owned();
    let (html, text, _) = render(&view);
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(
        html.contains("&#60;script&#62;alert(2)&#60;/script&#62;"),
        "{html}"
    );
    assert!(html.contains("&#60;b&#62;Acme&#60;/b&#62;"), "{html}");
    // Plain text is not HTML: escaping it would show entities to the reader.
    assert!(text.contains("<script>alert(1)</script>"), "{text}");
}

#[test]
fn the_html_uses_no_script_or_remote_image() {
    let (html, _, _) = render(&view());
    let lower = html.to_lowercase();
    for banned in ["<script", "<img", "<link", "url("] {
        assert!(!lower.contains(banned), "{banned} in\n{html}");
    }
}

/// `html` without the spans from `open` to `close`.
fn strip(html: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find(open) {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(close).expect("a closed span") + at + close.len();
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_layout_is_fluid_and_inline_so_it_survives_a_stripped_style_element() {
    let (html, _, _) = render(&view());
    assert_eq!(html.matches("<style>").count(), 1, "one style element");
    let bare = strip(
        &strip(&html, "<style>", "</style>"),
        "<!--[if mso]>",
        "<![endif]-->",
    );
    assert!(
        bare.contains("width:100%;max-width:600px;"),
        "the card is fluid up to 600 px by itself"
    );
    // No fixed width a phone could not hold: percentages, or 0 for the hidden preheader.
    for (at, _) in bare.match_indices("width") {
        if bare[..at].ends_with("max-") {
            continue;
        }
        let tail = &bare[at..];
        let digits: String = tail
            .trim_start_matches("width:")
            .trim_start_matches("width=\"")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let unit = &tail[tail.find(&digits).unwrap_or(0) + digits.len()..];
        if !digits.is_empty() && !unit.starts_with('%') {
            assert_eq!(
                digits,
                "0",
                "a fixed width: {}",
                &tail[..tail.len().min(40)]
            );
        }
    }
}

#[test]
fn an_empty_digest_says_there_is_no_data_in_both_parts() {
    let (html, text, _) = render(&DigestView {
        empty: true,
        sections: Vec::new(),
        ..view()
    });
    assert!(html.contains("No data for this period"), "{html}");
    assert!(text.contains("No data for this period"), "{text}");
    assert!(!html.contains("Lead volume"), "{html}");
}

#[test]
fn a_digest_without_kpis_also_says_there_is_no_data() {
    let (html, text, _) = render(&DigestView {
        sections: vec![DigestSection {
            title: "Lead volume".to_owned(),
            kpis: Vec::new(),
        }],
        ..view()
    });
    assert!(html.contains("No data for this period"), "{html}");
    assert!(text.contains("No data for this period"), "{text}");
}

#[test]
fn the_text_part_lists_sections_and_kpis_readably() {
    let (_, text, _) = render(&view());
    let expected = [
        "Acme Growth · Weekly",
        "Week 45, 2026 (Nov 2 – Nov 8)",
        "View in browser: https://lodestar.example.com/reports/weekly?period=2026-W45&share=abc",
        "Lead volume & quality",
        "- Leads: 412 (+5.6%, better; previous week 390) — Target 400 — met",
        "- MQL rate: 31.0% (-2.1 pp, worse; previous week 33.1%)",
        "- Cost per lead: $48.20 — Target ≤ $40.00 — missed",
        "Note: CPL by region needs spend with attrs.region",
        "Newest data: 2026-11-22 20:48 UTC",
        "Manage this e-mail: https://lodestar.example.com/reports/weekly",
    ];
    let mut rest = text.as_str();
    for line in expected {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("missing or out of order {line:?} in\n{text}"));
        rest = &rest[at + line.len()..];
    }
    assert!(!text.contains("\n\n\n"), "runs of blank lines in\n{text}");
}

#[test]
fn bars_are_clamped_to_the_cell() {
    let mut view = view();
    view.sections[0].kpis[0].bar_pct = 250.0;
    view.sections[0].kpis[1].bar_pct = f64::NAN;
    view.sections[1].kpis[0].bar_pct = -3.0;
    let (html, _, _) = render(&view);
    assert!(html.contains("width:100%;height:8px"), "{html}");
    assert!(!html.contains("width:250%"), "{html}");
    assert!(!html.contains("NaN"), "{html}");
    assert!(!html.contains("width:-3%"), "{html}");
}
