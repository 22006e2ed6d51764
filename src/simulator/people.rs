//! The simulated organisation's people. Jira user `n` is person `n`; the first
//! [`HUMANS`](super::github::pulls::HUMANS) of them are also GitHub's `gh-user(n+1)`, who
//! commit under the same name and work e-mail. Jira hides the e-mail of some users (their
//! privacy setting), so only their names tie their two accounts; and one Jira-only user
//! shares another person's name without being them.

use super::jira::catalog::USER_COUNT;

const FIRST: [&str; 20] = [
    "Ann", "Bo", "Carla", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
    "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
];
const LAST: [&str; 20] = [
    "Lee", "Novak", "Okafor", "Silva", "Berg", "Rossi", "Tanaka", "Haddad", "Kowalski", "Moreau",
    "Nguyen", "Olsen", "Patel", "Quist", "Ramos", "Schmidt", "Tran", "Ueda", "Varga", "Weiss",
];

/// The Jira-only user named like [`NAMESAKE_OF`] without being them.
pub const NAMESAKE: u64 = 35;
/// The person (in Jira and GitHub) whose name [`NAMESAKE`] shares.
pub const NAMESAKE_OF: u64 = 5;

/// Person `n`'s full name (unique but for [`NAMESAKE`]).
pub fn name(person: u64) -> String {
    let n = if person == NAMESAKE {
        NAMESAKE_OF
    } else {
        person
    } as usize;
    format!(
        "{} {}",
        FIRST[n % FIRST.len()],
        LAST[(n * 3 + n / FIRST.len()) % LAST.len()]
    )
}

/// Person `n`'s work e-mail (everybody's own).
pub fn email(person: u64) -> String {
    let name = name(person).to_lowercase().replace(' ', ".");
    format!("{name}.{person:02}@corp.sim.example")
}

/// Whether Jira shows person `n`'s e-mail address.
pub fn jira_shows_email(person: u64) -> bool {
    person % 7 != 3
}

/// Every Jira user's index.
pub fn all() -> std::ops::Range<u64> {
    0..USER_COUNT
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_but_for_the_namesake_and_emails_all_unique() {
        let names: BTreeSet<String> = all().map(name).collect();
        assert_eq!(names.len() as u64, USER_COUNT - 1);
        assert_eq!(name(NAMESAKE), name(NAMESAKE_OF));
        let emails: BTreeSet<String> = all().map(email).collect();
        assert_eq!(emails.len() as u64, USER_COUNT);
        assert!(all().filter(|p| !jira_shows_email(*p)).count() >= 4);
    }
}
