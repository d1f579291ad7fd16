use std::collections::HashSet;

use lodestar_core::rows::SpendCategory;

use super::*;

fn small() -> GenSpec {
    let now = NaiveDate::from_ymd_opt(2026, 3, 15)
        .and_then(|d| d.and_hms_opt(13, 30, 0))
        .expect("valid date")
        .and_utc();
    GenSpec {
        days: 120,
        start: now.date_naive() - Duration::days(119),
        ..GenSpec::demo(now)
    }
}

fn collect(spec: &GenSpec) -> (Vec<LeadRow>, Vec<SpendRow>, Vec<EventRow>) {
    let (mut leads, mut spend, mut events) = (Vec::new(), Vec::new(), Vec::new());
    generate(spec, |chunk| {
        assert!(
            !chunk.is_empty() && chunk.len() <= CHUNK_ROWS,
            "chunk of {} rows",
            chunk.len()
        );
        match chunk {
            Chunk::Leads(r) => leads.extend(r),
            Chunk::Spend(r) => spend.extend(r),
            Chunk::Events(r) => events.extend(r),
        }
        Ok(())
    })
    .expect("generation succeeds");
    (leads, spend, events)
}

#[test]
fn the_same_seed_gives_the_same_rows() {
    let spec = small();
    assert_eq!(collect(&spec), collect(&spec));
    let other = GenSpec {
        seed: spec.seed + 1,
        ..spec.clone()
    };
    assert_ne!(collect(&spec).0, collect(&other).0);
}

#[test]
fn nothing_happens_after_as_of() {
    let spec = small();
    let (leads, spend, events) = collect(&spec);
    let as_of = spec.as_of;
    for l in &leads {
        for t in [
            Some(l.created_at),
            l.mql_at,
            l.sal_at,
            l.sql_at,
            l.opportunity_at,
            l.won_at,
            l.lost_at,
            l.churned_at,
        ]
        .into_iter()
        .flatten()
        {
            assert!(t <= as_of, "{} has {t} after {as_of}", l.id);
        }
    }
    assert!(events.iter().all(|e| e.occurred_at <= as_of));
    assert!(spend.iter().all(|s| s.day <= as_of.date_naive()));
    // The funnel is cut, not empty: recent leads are still open, older ones have moved on.
    assert!(leads.iter().any(|l| l.won_at.is_some()));
    assert!(leads.iter().any(|l| l.churned_at.is_some()));
}

#[test]
fn history_does_not_depend_on_as_of() {
    let spec = small();
    let earlier = GenSpec {
        as_of: spec.as_of - Duration::days(30),
        ..spec.clone()
    };
    let (all, _, _) = collect(&spec);
    let (cut, _, _) = collect(&earlier);
    let by_id: std::collections::HashMap<_, _> = all.iter().map(|l| (l.id.as_str(), l)).collect();
    assert!(!cut.is_empty() && cut.len() < all.len());
    for l in &cut {
        let full = by_id[l.id.as_str()];
        assert_eq!(
            (l.created_at, &l.channel, l.mql_at),
            (
                full.created_at,
                &full.channel,
                full.mql_at.filter(|t| *t <= earlier.as_of)
            )
        );
    }
}

#[test]
fn lifecycle_steps_follow_creation_in_order() {
    let (leads, _, _) = collect(&small());
    for l in &leads {
        if let Some(w) = l.won_at {
            assert!(l.created_at <= w, "{} won before it was created", l.id);
            assert!(
                l.deal_value
                    .is_some_and(|d| (2_000_000_000..=20_000_000_000).contains(&d.0))
            );
            assert!(l.lost_at.is_none());
        } else {
            assert!(l.deal_value.is_none() && l.churned_at.is_none());
        }
        let chain = [l.mql_at, l.sal_at, l.sql_at, l.opportunity_at, l.won_at];
        let steps: Vec<_> = std::iter::once(l.created_at)
            .chain(chain.into_iter().flatten())
            .collect();
        assert!(
            steps.windows(2).all(|w| w[0] <= w[1]),
            "{} steps out of order",
            l.id
        );
    }
}

#[test]
fn every_id_is_unique() {
    let (leads, spend, events) = collect(&small());
    let lead_ids: HashSet<_> = leads.iter().map(|l| &l.id).collect();
    assert_eq!(lead_ids.len(), leads.len());
    let event_ids: HashSet<_> = events.iter().map(|e| &e.id).collect();
    assert_eq!(event_ids.len(), events.len());
    let spend_keys: HashSet<_> = spend
        .iter()
        .map(|s| (s.day, &s.channel, &s.campaign, s.category.as_str()))
        .collect();
    assert_eq!(spend_keys.len(), spend.len());
    assert!(
        events
            .iter()
            .filter_map(|e| e.lead_id.as_ref())
            .all(|id| lead_ids.contains(id))
    );
}

#[test]
fn the_data_looks_like_a_funnel() {
    let spec = small();
    let (leads, spend, events) = collect(&spec);
    let n = leads.len() as f64;
    let expected = spec.expected_leads();
    assert!(
        (n - expected).abs() < expected * 0.1,
        "{n} leads, expected about {expected}"
    );
    let share = |f: &dyn Fn(&LeadRow) -> bool| leads.iter().filter(|l| f(l)).count() as f64 / n;
    let mql = share(&|l| l.mql_at.is_some());
    assert!((0.45..0.7).contains(&mql), "MQL share {mql}");
    assert!(share(&|l| l.won_at.is_some()) > 0.02);
    let weekend = leads
        .iter()
        .filter(|l| is_weekend(l.created_at.date_naive()))
        .count() as f64;
    // Two weekend days at 40 % against five weekdays: about 14 % of leads.
    assert!(
        (0.08..0.2).contains(&(weekend / n)),
        "weekend share {}",
        weekend / n
    );
    let kinds: HashSet<_> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "visit",
        "session",
        "engagement",
        "nps",
        "revenue",
        "demo_booked",
    ] {
        assert!(kinds.contains(kind), "no {kind} events");
    }
    assert!(
        events
            .iter()
            .filter(|e| e.kind == "nps")
            .all(|e| e.value.is_some_and(|v| (0..=10_000_000).contains(&v.0)))
    );
    let categories: HashSet<_> = spend.iter().map(|s| s.category.as_str()).collect();
    assert_eq!(categories.len(), 6, "categories {categories:?}");
    assert!(
        spend
            .iter()
            .filter(|s| s.category == SpendCategory::Advertising)
            .all(|s| s.clicks.is_some() && s.impressions.is_some())
    );
}
