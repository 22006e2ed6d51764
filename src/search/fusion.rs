//! Reciprocal rank fusion: two rankings of the same records (lexical and semantic) become
//! one. A record's fused score is the sum over the rankings it appears in of
//! `1 / (RRF_K + rank)`, rank counted from 1; the constant 60 is the one of the original
//! paper (Cormack, Clarke and Büttcher, 2009), which keeps one ranking's top result from
//! outweighing agreement between both.

use std::collections::HashMap;
use std::hash::Hash;

/// The fusion constant.
pub const RRF_K: f64 = 60.0;

/// Which rankings found a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    /// The query names the record's key.
    Key,
    /// Its words (lexical ranking only).
    Lexical,
    /// Its meaning (vector ranking only).
    Semantic,
    /// Both rankings.
    Both,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Key => "key",
            MatchedBy::Lexical => "lexical",
            MatchedBy::Semantic => "semantic",
            MatchedBy::Both => "both",
        }
    }
}

/// A record in the fused ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused<K> {
    pub record: K,
    pub score: f64,
    pub matched: MatchedBy,
}

/// Fuses a lexical and a semantic ranking (best first, no repeats within one) into one,
/// best first; ties keep the lexical ranking's order, then the semantic one's.
pub fn fuse<K: Eq + Hash + Clone>(lexical: &[K], semantic: &[K]) -> Vec<Fused<K>> {
    let mut fused: Vec<Fused<K>> = Vec::with_capacity(lexical.len() + semantic.len());
    let mut position: HashMap<K, usize> = HashMap::new();
    for (ranking, matched) in [
        (lexical, MatchedBy::Lexical),
        (semantic, MatchedBy::Semantic),
    ] {
        for (rank, record) in ranking.iter().enumerate() {
            let share = 1.0 / (RRF_K + rank as f64 + 1.0);
            match position.get(record) {
                Some(&at) => {
                    fused[at].score += share;
                    fused[at].matched = MatchedBy::Both;
                }
                None => {
                    position.insert(record.clone(), fused.len());
                    fused.push(Fused {
                        record: record.clone(),
                        score: share,
                        matched,
                    });
                }
            }
        }
    }
    // A stable sort: equal scores keep the order they were met in.
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_beats_one_ranking_alone() {
        let fused = fuse(&["a", "b", "c"], &["c", "d"]);
        let order: Vec<&str> = fused.iter().map(|f| f.record).collect();
        // b and d tie (both second in one ranking): the lexical one comes first.
        assert_eq!(order, ["c", "a", "b", "d"]);
        assert_eq!(fused[0].matched, MatchedBy::Both);
        assert_eq!(fused[1].matched, MatchedBy::Lexical);
        assert_eq!(fused[3].matched, MatchedBy::Semantic);
        let expected = 1.0 / (RRF_K + 3.0) + 1.0 / (RRF_K + 1.0);
        assert!((fused[0].score - expected).abs() < 1e-12);
    }

    #[test]
    fn one_empty_ranking_keeps_the_other_as_it_is() {
        let fused = fuse::<&str>(&[], &["x", "y"]);
        assert_eq!(fused.len(), 2);
        assert_eq!(fused[0].record, "x");
        assert!(fuse::<&str>(&[], &[]).is_empty());
    }
}
