//! The lexical side of search: text cut into terms that work in every script — words where
//! words are separated by spaces, overlapping character pairs in scripts written without
//! spaces (Chinese, Japanese, Korean, Thai, …) — and weighted as a sparse vector for the
//! vector store, BM25-style: the document side carries the saturated term frequency, the
//! store multiplies in each term's inverse document frequency at query time.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;

/// BM25's term-frequency saturation.
const K1: f32 = 1.2;
/// BM25's length normalisation (0 none, 1 full).
const B: f32 = 0.75;
/// The document length, in terms, that BM25 normalises towards: about a work item's title,
/// labels and a short description.
const AVERAGE_TERMS: f32 = 60.0;
/// Longer "words" (hashes, base64, minified code) are noise, not terms.
const LONGEST_WORD: usize = 40;
/// How many times a title's terms count: a title says what an item is about.
pub const TITLE_WEIGHT: u32 = 2;

/// A sparse vector: sorted, distinct dimension ids and their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseTerms {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseTerms {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Whether `c` belongs to a script written without spaces between words, where a term is a
/// pair of neighbouring characters.
fn is_unsegmented(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF          // Thai, Lao
        | 0x1000..=0x109F        // Myanmar
        | 0x1100..=0x11FF        // Hangul Jamo
        | 0x1780..=0x17FF        // Khmer
        | 0x2E80..=0x2FDF        // CJK radicals
        | 0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3130..=0x318F        // Hangul compatibility Jamo
        | 0x31F0..=0x31FF        // Katakana extensions
        | 0x3400..=0x4DBF        // CJK extension A
        | 0x4E00..=0x9FFF        // CJK unified ideographs
        | 0xAC00..=0xD7AF        // Hangul syllables
        | 0xF900..=0xFAFF        // CJK compatibility ideographs
        | 0xFF66..=0xFF9F        // half-width Katakana
        | 0x20000..=0x3134F // CJK extensions B–G
    )
}

/// The terms of `text`, in order, repeated as often as they occur: NFKC-normalised and
/// lower-cased; runs of letters and digits are words; runs of an unsegmented script give
/// each pair of neighbouring characters (a lone character stands for itself).
pub fn terms(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, found: &mut Vec<String>| {
        if !word.is_empty() && word.chars().count() <= LONGEST_WORD {
            found.push(std::mem::take(word));
        }
        word.clear();
    };
    let flush_run = |run: &mut Vec<char>, found: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => found.push(run[0].to_string()),
            _ => found.extend(run.windows(2).map(|pair| pair.iter().collect())),
        }
        run.clear();
    };
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if is_unsegmented(c) {
            flush_word(&mut word, &mut found);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut found);
            word.push(c);
        } else {
            flush_word(&mut word, &mut found);
            flush_run(&mut run, &mut found);
        }
    }
    flush_word(&mut word, &mut found);
    flush_run(&mut run, &mut found);
    found
}

/// The dimension a term is stored under: its 32-bit FNV-1a hash (fixed forever: changing it
/// orphans every stored vector).
pub fn dimension(term: &str) -> u32 {
    term.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn sparse(counts: BTreeMap<u32, f32>) -> SparseTerms {
    let (indices, values) = counts.into_iter().unzip();
    SparseTerms { indices, values }
}

/// A document's sparse vector from its weighted parts (e.g. the title at [`TITLE_WEIGHT`],
/// the body at 1): each term's BM25 term-frequency part, normalised by the document's
/// length.
pub fn document_vector(parts: &[(&str, u32)]) -> SparseTerms {
    let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
    let mut length = 0_f32;
    for (text, weight) in parts {
        for term in terms(text) {
            *counts.entry(dimension(&term)).or_default() += *weight as f32;
            length += *weight as f32;
        }
    }
    let norm = K1 * (1.0 - B + B * length / AVERAGE_TERMS);
    for tf in counts.values_mut() {
        *tf = *tf * (K1 + 1.0) / (*tf + norm);
    }
    sparse(counts)
}

/// A query's sparse vector: each distinct term once (the store weighs it by how rare it is).
pub fn query_vector(text: &str) -> SparseTerms {
    sparse(terms(text).iter().map(|t| (dimension(t), 1.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_and_split_on_anything_else() {
        assert_eq!(
            terms("Fix CORE-12: login/SSO flow"),
            ["fix", "core", "12", "login", "sso", "flow"]
        );
    }

    #[test]
    fn unsegmented_scripts_give_overlapping_pairs() {
        assert_eq!(terms("登录失败"), ["登录", "录失", "失败"]);
        assert_eq!(terms("ログイン"), ["ログ", "グイ", "イン"]);
        assert_eq!(terms("修复 bug"), ["修复", "bug"]);
        assert_eq!(terms("修API复"), ["修", "api", "复"]);
    }

    #[test]
    fn full_width_forms_fold_to_their_plain_letters() {
        assert_eq!(terms("ＡＰＩ　１２"), ["api", "12"]);
    }

    #[test]
    fn overlong_words_are_dropped() {
        let noise = "a".repeat(LONGEST_WORD + 1);
        assert_eq!(terms(&format!("keep {noise} this")), ["keep", "this"]);
    }

    #[test]
    fn document_weights_saturate_and_shrink_with_length() {
        let once = document_vector(&[("cache", 1)]);
        let thrice = document_vector(&[("cache cache cache", 1)]);
        assert_eq!(once.indices, vec![dimension("cache")]);
        assert!(thrice.values[0] > once.values[0]);
        assert!(thrice.values[0] < K1 + 1.0);
        let long = document_vector(&[(&format!("cache {}", "word ".repeat(200)), 1)]);
        let cache = long
            .indices
            .iter()
            .position(|&i| i == dimension("cache"))
            .unwrap_or_default();
        assert!(long.values[cache] < once.values[0]);
        let titled = document_vector(&[("cache", TITLE_WEIGHT), ("cache", 1)]);
        assert!(titled.values[0] > once.values[0]);
    }

    #[test]
    fn query_vectors_hold_each_term_once_sorted() {
        let query = query_vector("cache the cache");
        assert_eq!(query.indices.len(), 2);
        assert!(query.indices.windows(2).all(|w| w[0] < w[1]));
        assert!(query.values.iter().all(|&v| v == 1.0));
        assert!(query_vector(" — ").is_empty());
    }
}
