//! How two rankings of the same records (lexical and semantic) become one.
//!
//! - [`Fusion::Convex`] (the default): each ranking's scores are min-max normalised over
//!   its candidates, then combined as `LEXICAL_WEIGHT × lexical + (1 − LEXICAL_WEIGHT) ×
//!   semantic` (a record missing from a ranking gets 0 there). Scores keep how far apart
//!   candidates are, so one ranking's clear winner is not undone by the other's noise.
//! - [`Fusion::Rrf`]: reciprocal rank fusion, the sum over the rankings a record appears in
//!   of `1 / (RRF_K + rank)`, rank counted from 1, with the constant 60 of the original
//!   paper (Cormack, Clarke and Büttcher, 2009). Ranks only: agreement at middling ranks
//!   outweighs one ranking's first place.
//!
//! Convex is the default because it measured better on every query set of
//! `cargo bench --bench search_quality` (the figures are in the README).

use std::collections::HashMap;
use std::hash::Hash;

/// The fusion constant.
pub const RRF_K: f64 = 60.0;

/// The lexical ranking's share in the convex combination. Measured over 0.3 to 0.8: 0.8 is
/// the one weight that ranks at least as well as both single rankings on every set of
/// `cargo bench --bench search_quality`.
pub const LEXICAL_WEIGHT: f64 = 0.8;

/// How rankings are fused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fusion {
    /// Normalised scores, weighted.
    #[default]
    Convex,
    /// Reciprocal ranks.
    Rrf,
}

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

/// Fuses a lexical and a semantic ranking (best first, no repeats within one, each record
/// with its score) into one, best first; ties keep the lexical ranking's order, then the
/// semantic one's.
pub fn fuse<K: Eq + Hash + Clone>(
    fusion: Fusion,
    lexical: &[(K, f64)],
    semantic: &[(K, f64)],
) -> Vec<Fused<K>> {
    let share = |ranking: &[(K, f64)], weight: f64| -> Vec<f64> {
        match fusion {
            Fusion::Rrf => (0..ranking.len())
                .map(|rank| 1.0 / (RRF_K + rank as f64 + 1.0))
                .collect(),
            Fusion::Convex => {
                let (low, high) = ranking
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(low, high), (_, score)| {
                        (low.min(*score), high.max(*score))
                    });
                ranking
                    .iter()
                    .map(|(_, score)| match high > low {
                        true => weight * (score - low) / (high - low),
                        false => weight,
                    })
                    .collect()
            }
        }
    };
    let lexical_shares = share(lexical, LEXICAL_WEIGHT);
    let semantic_shares = share(semantic, 1.0 - LEXICAL_WEIGHT);
    let mut fused: Vec<Fused<K>> = Vec::with_capacity(lexical.len() + semantic.len());
    let mut position: HashMap<K, usize> = HashMap::new();
    let rankings = [
        (lexical, lexical_shares, MatchedBy::Lexical),
        (semantic, semantic_shares, MatchedBy::Semantic),
    ];
    for (ranking, shares, matched) in rankings {
        for ((record, _), share) in ranking.iter().zip(shares) {
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

    fn scored<'a>(records: &[&'a str], scores: &[f64]) -> Vec<(&'a str, f64)> {
        records
            .iter()
            .copied()
            .zip(scores.iter().copied())
            .collect()
    }

    #[test]
    fn reciprocal_ranks_reward_agreement_over_one_first_place() {
        let lexical = scored(&["a", "b", "c"], &[9.0, 8.0, 1.0]);
        let semantic = scored(&["c", "d"], &[0.9, 0.8]);
        let fused = fuse(Fusion::Rrf, &lexical, &semantic);
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
    fn normalised_scores_keep_a_clear_winner_and_weigh_words_more() {
        // a wins the lexical ranking by far; c is semantic's first and lexical's last.
        let lexical = scored(&["a", "b", "c"], &[9.0, 8.0, 1.0]);
        let semantic = scored(&["c", "d", "a"], &[0.9, 0.8, 0.7]);
        let fused = fuse(Fusion::Convex, &lexical, &semantic);
        let order: Vec<&str> = fused.iter().map(|f| f.record).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert!((fused[0].score - LEXICAL_WEIGHT).abs() < 1e-12);
        let expected_b = LEXICAL_WEIGHT * 7.0 / 8.0;
        assert!((fused[1].score - expected_b).abs() < 1e-12);
        assert_eq!(fused[2].matched, MatchedBy::Both);
        assert_eq!(fused[3].matched, MatchedBy::Semantic);
    }

    #[test]
    fn one_empty_ranking_keeps_the_other_as_it_is() {
        for fusion in [Fusion::Convex, Fusion::Rrf] {
            let fused = fuse::<&str>(fusion, &[], &scored(&["x", "y"], &[0.5, 0.4]));
            assert_eq!(fused.len(), 2);
            assert_eq!(fused[0].record, "x");
            assert!(fuse::<&str>(fusion, &[], &[]).is_empty());
        }
    }
}
