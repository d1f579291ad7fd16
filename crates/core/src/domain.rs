//! The domain rules the base measures count by, each named once: the event kinds the built-in
//! KPIs read, what makes an NPS answer a promoter or a detractor, and which spend categories
//! are ad and marketing spend. `store` writes these into its SQL and its rollups from here.

use crate::rows::SpendCategory;

/// Event kinds the built-in measures read. Any other kind is a team's own (scripts count it).
pub mod event_kind {
    /// Webinars, trade shows, workshops…: `sessions`.
    pub const SESSION: &str = "session";
    /// `visits`.
    pub const VISIT: &str = "visit";
    /// A lead's engagement: `engagements` and `engagement_rate`.
    pub const ENGAGEMENT: &str = "engagement";
    /// Recurring revenue, its value the amount: `recurring_revenue`.
    pub const REVENUE: &str = "revenue";
    /// A survey answer, its value the score 0–10: `nps`.
    pub const NPS: &str = "nps";
    /// Every kind a built-in measure reads.
    pub const BUILT_IN: [&str; 5] = [SESSION, VISIT, ENGAGEMENT, REVENUE, NPS];
}

/// Net promoter score: promoters answer 9–10, detractors 0–6.
pub mod nps {
    /// The lowest promoter score, in micros (an event's value is stored in millionths).
    pub const PROMOTER_MIN_MICROS: i64 = 9_000_000;
    /// The highest detractor score, in micros.
    pub const DETRACTOR_MAX_MICROS: i64 = 6_000_000;

    pub fn is_promoter(score_micros: i64) -> bool {
        score_micros >= PROMOTER_MIN_MICROS
    }

    pub fn is_detractor(score_micros: i64) -> bool {
        score_micros <= DETRACTOR_MAX_MICROS
    }
}

/// `ad_spend` is the spend of this category.
pub const AD_SPEND_CATEGORY: SpendCategory = SpendCategory::Advertising;

/// `marketing_spend` is the spend of every category but this one.
pub const NON_MARKETING_CATEGORY: SpendCategory = SpendCategory::Sales;

#[cfg(test)]
mod tests {
    use super::nps;

    #[test]
    fn nine_and_ten_promote_seven_and_eight_are_passive_six_and_below_detract() {
        let score = |points: i64| points * 1_000_000;
        assert!(nps::is_promoter(score(9)) && nps::is_promoter(score(10)));
        for passive in [score(7), score(8), score(9) - 1] {
            assert!(!nps::is_promoter(passive) && !nps::is_detractor(passive));
        }
        assert!(nps::is_detractor(score(6)) && nps::is_detractor(0));
    }
}
