//! The generated team's channel mix: each channel's share of leads and visits, lead quality,
//! paid media, sources and campaigns, and its regions and engagement kinds.

/// Channels in the order a spec takes them, with their share of leads, how well their leads
/// convert (relative), whether they buy media, and their typical sources.
pub const CHANNELS: [&str; 8] = [
    "email",
    "paid_search",
    "social",
    "organic",
    "events",
    "referral",
    "display",
    "partner",
];
pub(super) const LEAD_SHARE: [f64; 8] = [0.14, 0.22, 0.16, 0.22, 0.08, 0.08, 0.06, 0.04];
pub(super) const VISIT_SHARE: [f64; 8] = [0.08, 0.20, 0.15, 0.35, 0.03, 0.05, 0.10, 0.04];
pub(super) const QUALITY: [f64; 8] = [1.0, 0.9, 0.7, 1.0, 1.3, 1.5, 0.5, 1.1];
pub(super) const PAID: [bool; 8] = [false, true, true, false, false, false, true, true];
pub(super) const SOURCES: [&[&str]; 8] = [
    &["newsletter", "nurture"],
    &["google", "bing"],
    &["linkedin", "facebook", "x"],
    &["google", "direct", "blog"],
    &["tradeshow", "webinar"],
    &["customer", "employee"],
    &["programmatic"],
    &["reseller", "affiliate"],
];
pub(super) const CAMPAIGNS: [&[&str]; 8] = [
    &[
        "welcome-series",
        "product-update",
        "nurture-smb",
        "webinar-invite",
        "reactivation",
        "case-study",
    ],
    &[
        "brand-search",
        "competitor-terms",
        "generic-crm",
        "pricing-terms",
        "retargeting-search",
        "feature-terms",
    ],
    &[
        "linkedin-abm",
        "linkedin-leadgen",
        "facebook-lookalike",
        "x-launch",
        "youtube-explainer",
        "instagram-stories",
    ],
    &[
        "blog-seo",
        "comparison-pages",
        "templates",
        "docs",
        "podcast",
        "free-tools",
    ],
    &[
        "saas-summit",
        "roadshow",
        "partner-day",
        "user-conference",
        "field-dinners",
        "meetups",
    ],
    &[
        "customer-referral",
        "refer-a-friend",
        "agency-program",
        "champions",
        "alumni",
        "integrations",
    ],
    &[
        "display-awareness",
        "retargeting-display",
        "native-ads",
        "programmatic-abm",
        "ctv-pilot",
        "sponsored-news",
    ],
    &[
        "reseller-emea",
        "affiliate-program",
        "marketplace",
        "co-marketing",
        "system-integrators",
        "oem",
    ],
];
pub(super) const REGIONS: [(&str, f64); 4] = [
    ("NA", 0.45),
    ("EMEA", 0.30),
    ("APAC", 0.15),
    ("LATAM", 0.10),
];
pub(super) const ENGAGEMENTS: [&str; 5] = [
    "email_open",
    "email_click",
    "download",
    "webinar_attendance",
    "pricing_view",
];

pub(super) struct Campaign {
    pub(super) name: String,
    /// Daily cost of the campaign on a weekday, in currency units.
    pub(super) daily: f64,
    pub(super) cpm: f64,
    pub(super) ctr: f64,
}

pub(super) struct Channel {
    pub(super) name: &'static str,
    pub(super) lead_share: f64,
    pub(super) visit_share: f64,
    pub(super) quality: f64,
    pub(super) paid: bool,
    pub(super) sources: &'static [&'static str],
    pub(super) campaigns: Vec<Campaign>,
}
