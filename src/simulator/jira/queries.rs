//! Labelled search queries over a simulated site, for measuring retrieval: each query names
//! the one issue it should find. Sets: each issue's own title, by language; words of its
//! description its title does not hold; its title paraphrased (other words, same meaning);
//! its title misspelled.

use super::issues::Population;
use super::text::{description_words, language, Language};

/// A query and the issue (by index) it should find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledQuery {
    pub text: String,
    pub issue: u32,
}

/// A named set of queries.
#[derive(Debug, Clone)]
pub struct QuerySet {
    pub name: &'static str,
    pub queries: Vec<LabelledQuery>,
}

/// Other words for the simulator's verbs and objects.
const PARAPHRASES: &[(&str, &str)] = &[
    ("Add", "introduce"),
    ("Fix", "repair"),
    ("Refactor", "restructure"),
    ("Remove", "drop"),
    ("Improve", "enhance"),
    ("Migrate", "move over"),
    ("Document", "write up"),
    ("Investigate", "look into"),
    ("login flow", "sign-in process"),
    ("billing export", "invoice download"),
    ("search ranking", "result ordering"),
    ("cache layer", "caching tier"),
    ("webhook retries", "callback redelivery"),
    ("audit log", "activity trail"),
    ("dashboard filters", "overview page filtering"),
    ("rate limiter", "request throttling"),
    ("CSV import", "spreadsheet upload"),
    ("notification emails", "alert messages"),
];

/// Every set over the first `count` issues of `population`.
pub fn query_sets(population: &Population, count: u32) -> Vec<QuerySet> {
    let mut titles = [
        ("own title, English", Language::English, Vec::new()),
        ("own title, Chinese", Language::Chinese, Vec::new()),
        ("own title, Japanese", Language::Japanese, Vec::new()),
        ("own title, mixed", Language::Mixed, Vec::new()),
    ];
    let mut described = Vec::new();
    let mut paraphrased = Vec::new();
    let mut misspelled = Vec::new();
    for index in 0..count.min(population.issues) {
        let summary = population.issue(index, &[]).summary;
        let query = |text: String| LabelledQuery { text, issue: index };
        let words = description_words(population.seed, index);
        described.push(query(format!(
            "{} {} {}",
            words.component, words.symptom, words.customer
        )));
        let language = language(index);
        if language == Language::English {
            paraphrased.push(query(paraphrase(&summary)));
            misspelled.push(query(misspell(&summary)));
        }
        if let Some((_, _, set)) = titles.iter_mut().find(|(_, l, _)| *l == language) {
            set.push(query(summary));
        }
    }
    let mut sets: Vec<QuerySet> = titles
        .into_iter()
        .map(|(name, _, queries)| QuerySet { name, queries })
        .collect();
    sets.push(QuerySet {
        name: "description words",
        queries: described,
    });
    sets.push(QuerySet {
        name: "paraphrase",
        queries: paraphrased,
    });
    sets.push(QuerySet {
        name: "misspelled title",
        queries: misspelled,
    });
    sets
}

/// The title with its verb and object said in other words.
pub fn paraphrase(title: &str) -> String {
    PARAPHRASES
        .iter()
        .fold(title.to_owned(), |text, (from, to)| {
            text.replacen(from, to, 1)
        })
}

/// The title with two neighbouring letters swapped in each of its first two words of five
/// letters or more (a typing slip).
pub fn misspell(title: &str) -> String {
    let mut slipped = 0;
    title
        .split(' ')
        .map(|word| {
            let chars: Vec<char> = word.chars().collect();
            if slipped < 2 && chars.len() >= 5 && chars.iter().all(|c| c.is_ascii_alphabetic()) {
                slipped += 1;
                let mut chars = chars;
                chars.swap(2, 3);
                chars.into_iter().collect()
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paraphrases_and_slips_change_the_words_not_the_issue() {
        assert_eq!(
            paraphrase("Fix login flow on mobile"),
            "repair sign-in process on mobile"
        );
        assert_eq!(
            misspell("Fix login flow under heavy load"),
            "Fix loign flow unedr heavy load"
        );
    }

    #[test]
    fn every_set_has_queries_for_a_small_site() {
        let population = Population {
            seed: 7,
            issues: 240,
            projects: 3,
        };
        let sets = query_sets(&population, 240);
        assert_eq!(sets.len(), 7);
        for set in &sets {
            assert!(set.queries.len() >= 20, "{}", set.name);
        }
        assert_eq!(sets[4].queries.len(), 240);
    }
}
