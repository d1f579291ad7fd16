//! "Did you mean": the closest known name to a misspelt one.

/// The candidate closest to `name` (case-insensitive edit distance), when it is close enough to
/// be a likely typo: at most a third of the longer name's characters differ.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (distance(&name, &c.to_lowercase()), c))
        .filter(|(d, c)| *d > 0 && *d * 3 <= name.chars().count().max(c.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
        .or(None)
}

/// Levenshtein distance in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_typo_finds_its_name_and_nonsense_finds_none() {
        let names = ["created_at", "channel", "campaign", "id"];
        assert_eq!(closest("crated_at", names), Some("created_at"));
        assert_eq!(closest("Chanel", names), Some("channel"));
        assert_eq!(closest("revenue_total", names), None);
        assert_eq!(closest("channel", names), None, "an exact name is no typo");
    }
}
