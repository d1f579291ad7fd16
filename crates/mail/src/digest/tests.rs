use super::*;

fn kpi(name: &str, value: &str, change: Option<&str>, trend: Trend, bar_pct: f64) -> DigestKpi {
    DigestKpi {
        name: name.to_owned(),
        value: value.to_owned(),
        change: change.map(str::to_owned),
        trend,
        target: None,
        bar_pct,
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
                kpis: vec![
                    DigestKpi {
                        target: Some("Target 400 — met".to_owned()),
                        ..kpi("Leads", "412", Some("+5.6%"), Trend::Good, 82.0)
                    },
                    kpi("MQL rate", "31.0%", Some("-2.1%"), Trend::Bad, 31.0),
                ],
            },
            DigestSection {
                title: "Spend efficiency".to_owned(),
                kpis: vec![kpi("Cost per lead", "$48.20", None, Trend::None, 100.0)],
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
    let leads = between(&html, ">leads</td>", "</tr>\n      <tr>");
    let halves: Vec<&str> = leads.split("border-left:1px solid #57606a").collect();
    assert_eq!(halves.len(), 2, "{leads}");
    assert!(halves[0].contains("width:42%") && !halves[1].contains("width:42%"));
    assert!(halves[0].contains("background-color:#cf222e"), "{leads}");
    let size = between(
        &html,
        ">deal size</td>",
        "</table>\n        </td>\n      </tr>",
    );
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
fn the_subject_joins_team_report_and_period_with_middle_dots() {
    let (_, _, subject) = render(&view());
    assert_eq!(
        subject,
        "Acme Growth · Weekly · Week 45, 2026 (Nov 2 – Nov 8)"
    );
}

#[test]
fn a_subject_never_carries_a_line_break() {
    assert_eq!(
        digest_subject("Acme\r\nBcc: eve@evil.example", "Weekly", "W45"),
        "Acme Bcc: eve@evil.example · Weekly · W45"
    );
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
        "width:82%",
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
fn the_html_uses_no_style_block_script_or_remote_image() {
    let (html, _, _) = render(&view());
    let lower = html.to_lowercase();
    for banned in ["<style", "<script", "<img", "<link", "url("] {
        assert!(!lower.contains(banned), "{banned} in\n{html}");
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
        "- Leads: 412 (+5.6%, better) — Target 400 — met",
        "- MQL rate: 31.0% (-2.1%, worse)",
        "- Cost per lead: $48.20",
        "Note: CPL by region needs spend with attrs.region",
        "Newest data: 2026-11-22 20:48 UTC",
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
