//! Per-token request budgets as GitHub and Azure DevOps report them (`x-ratelimit-limit`,
//! `-remaining`, `-reset`; for GraphQL in points): which token signs the next request, how
//! much to slow down as a budget runs low, and how long to wait when every token is spent;
//! and the delay Azure DevOps says it held a request back by (`x-ratelimit-delay`).

use std::cmp::Reverse;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;

/// Below this share of its limit a token's remaining requests are spread evenly over the
/// time left until its reset, instead of being spent at full speed.
const RESERVE_SHARE: f64 = 0.1;

/// What the source last said about one token's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Budget {
    limit: Option<u64>,
    remaining: Option<u64>,
    /// Epoch seconds when the budget refills.
    reset_at: Option<i64>,
}

impl Budget {
    /// Spent, with the refill still ahead.
    fn spent(&self, now: i64) -> bool {
        self.remaining == Some(0) && self.reset_at.is_some_and(|reset| reset > now)
    }

    /// Requests (or points) it can still spend before its reset: unknown, or without a
    /// reset ahead, counts as plenty.
    fn left(&self, now: i64) -> u64 {
        match (self.remaining, self.reset_at) {
            (Some(remaining), Some(reset)) if reset > now => remaining,
            _ => u64::MAX,
        }
    }

    /// The pause before spending `cost` of it: none while above the reserve, else the time
    /// to its reset shared out over the requests of that cost it has left.
    fn pace(&self, now: i64, cost: u64) -> Duration {
        let (Some(limit), Some(remaining), Some(reset)) =
            (self.limit, self.remaining, self.reset_at)
        else {
            return Duration::ZERO;
        };
        if reset <= now || remaining as f64 >= limit as f64 * RESERVE_SHARE {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((reset - now) as f64 / (remaining / cost.max(1) + 1) as f64)
    }
}

/// The decision for the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Sign with token `index` after pausing `pace`.
    Use { index: usize, pace: Duration },
    /// Every token is spent: wait this long, then ask again.
    Wait(Duration),
}

/// Budgets of the tokens one client rotates through.
#[derive(Debug)]
pub struct TokenBudgets {
    budgets: Mutex<Vec<Budget>>,
    turn: Mutex<usize>,
}

/// A header's whole-number value (`x-ratelimit-*`).
pub(super) fn header_number(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl TokenBudgets {
    pub fn new(tokens: usize) -> Self {
        TokenBudgets {
            budgets: Mutex::new(vec![Budget::default(); tokens.max(1)]),
            turn: Mutex::new(0),
        }
    }

    /// The token with the most budget left (in turn among equals) that can pay `cost` (one
    /// request, or a GraphQL query's points), or how long until the first refill when none
    /// can.
    pub fn pick(&self, now: i64, cost: u64) -> Pick {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let mut turn = self.turn.lock().unwrap_or_else(|p| p.into_inner());
        let count = budgets.len();
        let best = (0..count)
            .map(|offset| (offset, (*turn + offset) % count))
            .filter(|(_, index)| budgets[*index].left(now) >= cost.max(1))
            .max_by_key(|(offset, index)| (budgets[*index].left(now), Reverse(*offset)))
            .map(|(_, index)| index);
        match best {
            Some(index) => {
                *turn = (index + 1) % count;
                let pace = budgets[index].pace(now, cost);
                // Count the request now: with several in flight, waiting for their answers
                // to learn the budget is spent would overshoot it.
                if let Some(remaining) = &mut budgets[index].remaining {
                    *remaining = remaining.saturating_sub(cost.max(1));
                }
                Pick::Use { index, pace }
            }
            None => {
                let refill = budgets
                    .iter()
                    .filter_map(|b| b.reset_at)
                    .min()
                    .unwrap_or(now + 1);
                Pick::Wait(Duration::from_secs((refill - now).clamp(1, 3_600) as u64))
            }
        }
    }

    /// Takes token `index`'s budget as spent (the source refused a request for it); true
    /// when its reset is known and still ahead, so waiting for it makes sense.
    pub fn exhaust(&self, index: usize, now: i64) -> bool {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(budget) = budgets.get_mut(index) else {
            return false;
        };
        budget.remaining = Some(0);
        budget.spent(now)
    }

    /// Records the `x-ratelimit-*` headers of an answer to a request signed with `index`;
    /// true when they say the budget is spent until a reset still ahead.
    pub fn observe(&self, index: usize, headers: &HeaderMap, now: i64) -> bool {
        let Some(remaining) = header_number(headers, "x-ratelimit-remaining") else {
            return false;
        };
        // A spent budget whose reset is already due (the source rounds it down to the
        // second) is given one more second, so the retry does not come too early.
        let reset_at = header_number(headers, "x-ratelimit-reset").map(|reset| {
            if remaining <= 0 {
                reset.max(now + 1)
            } else {
                reset
            }
        });
        let budget = Budget {
            limit: header_number(headers, "x-ratelimit-limit").map(|l| l.max(0) as u64),
            remaining: Some(remaining.max(0) as u64),
            reset_at,
        };
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = budgets.get_mut(index) {
            *slot = budget;
        }
        budget.spent(now)
    }
}

/// The longest delay a source's `x-ratelimit-delay` is taken for (a larger one is an
/// answer not to trust).
const MAX_DELAY: Duration = Duration::from_secs(60);

/// How long the source says it held the request back (`x-ratelimit-delay`, seconds with a
/// fraction, as Azure DevOps sends it while it throttles); None when it did not, capped at
/// [`MAX_DELAY`].
pub fn delay_asked(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers
        .get("x-ratelimit-delay")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds).min(MAX_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn a_delay_is_read_in_seconds_and_capped_and_nonsense_is_none() {
        let delay = |value: &str| {
            let mut map = HeaderMap::new();
            map.insert("x-ratelimit-delay", HeaderValue::from_str(value).unwrap());
            delay_asked(&map)
        };
        assert_eq!(delay("1.5"), Some(Duration::from_millis(1_500)));
        assert_eq!(delay("3600"), Some(MAX_DELAY));
        for none in ["0", "-2", "NaN", "inf", "soon"] {
            assert_eq!(delay(none), None, "{none}");
        }
        assert_eq!(delay_asked(&HeaderMap::new()), None);
    }

    fn headers(limit: u64, remaining: u64, reset: i64) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ] {
            map.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        map
    }

    #[test]
    fn tokens_take_turns_while_budgets_are_unknown_or_equal() {
        let budgets = TokenBudgets::new(3);
        let picks: Vec<Pick> = (0..4).map(|_| budgets.pick(1_000, 1)).collect();
        let indexes: Vec<usize> = picks
            .iter()
            .map(|p| match p {
                Pick::Use { index, pace } => {
                    assert_eq!(*pace, Duration::ZERO);
                    *index
                }
                Pick::Wait(_) => panic!("nothing is spent"),
            })
            .collect();
        assert_eq!(indexes, vec![0, 1, 2, 0]);
    }

    #[test]
    fn the_fullest_token_is_preferred_and_a_spent_one_skipped() {
        let budgets = TokenBudgets::new(2);
        assert!(!budgets.observe(0, &headers(100, 40, 2_000), 1_000));
        assert!(!budgets.observe(1, &headers(100, 90, 2_000), 1_000));
        assert!(matches!(budgets.pick(1_000, 1), Pick::Use { index: 1, .. }));
        assert!(budgets.observe(1, &headers(100, 0, 2_000), 1_000));
        assert!(matches!(budgets.pick(1_000, 1), Pick::Use { index: 0, .. }));
    }

    #[test]
    fn all_spent_means_waiting_for_the_first_refill_and_then_going_on() {
        let budgets = TokenBudgets::new(2);
        budgets.observe(0, &headers(100, 0, 1_030), 1_000);
        budgets.observe(1, &headers(100, 0, 1_010), 1_000);
        assert_eq!(budgets.pick(1_000, 1), Pick::Wait(Duration::from_secs(10)));
        assert!(matches!(budgets.pick(1_010, 1), Pick::Use { index: 1, .. }));
    }

    #[test]
    fn remaining_zero_without_a_reset_time_is_not_a_spent_budget() {
        let budgets = TokenBudgets::new(1);
        let mut jira_429 = HeaderMap::new();
        jira_429.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert!(!budgets.observe(0, &jira_429, 1_000));
        assert!(matches!(budgets.pick(1_000, 1), Pick::Use { index: 0, .. }));
    }

    #[test]
    fn a_spent_budget_with_a_reset_due_now_waits_a_second() {
        let budgets = TokenBudgets::new(1);
        assert!(budgets.observe(0, &headers(100, 0, 1_000), 1_000));
        assert_eq!(budgets.pick(1_000, 1), Pick::Wait(Duration::from_secs(1)));
        assert!(matches!(budgets.pick(1_001, 1), Pick::Use { index: 0, .. }));
    }

    #[test]
    fn requests_in_flight_count_against_the_budget_before_their_answers() {
        let budgets = TokenBudgets::new(1);
        budgets.observe(0, &headers(100, 2, 1_060), 1_000);
        assert!(matches!(budgets.pick(1_000, 1), Pick::Use { index: 0, .. }));
        assert!(matches!(budgets.pick(1_000, 1), Pick::Use { index: 0, .. }));
        assert_eq!(budgets.pick(1_000, 1), Pick::Wait(Duration::from_secs(60)));
    }

    #[test]
    fn a_low_budget_is_spread_over_the_time_to_its_reset() {
        let budgets = TokenBudgets::new(1);
        budgets.observe(0, &headers(5_000, 600, 4_600), 1_000);
        assert!(matches!(budgets.pick(1_000, 1), Pick::Use { pace, .. } if pace.is_zero()));
        budgets.observe(0, &headers(5_000, 99, 4_600), 1_000);
        assert_eq!(
            budgets.pick(1_000, 1),
            Pick::Use {
                index: 0,
                pace: Duration::from_secs(36)
            }
        );
    }

    #[test]
    fn a_refused_request_spends_the_budget_until_its_reset() {
        let budgets = TokenBudgets::new(1);
        assert!(
            !budgets.exhaust(0, 1_000),
            "no reset known: nothing to wait for"
        );
        budgets.observe(0, &headers(5_000, 4, 1_300), 1_000);
        assert!(budgets.exhaust(0, 1_000));
        assert_eq!(budgets.pick(1_000, 1), Pick::Wait(Duration::from_secs(300)));
    }

    #[test]
    fn a_query_costing_more_than_is_left_waits_for_the_refill() {
        let budgets = TokenBudgets::new(2);
        budgets.observe(0, &headers(5_000, 8, 1_300), 1_000);
        budgets.observe(1, &headers(5_000, 30, 1_200), 1_000);
        assert!(matches!(
            budgets.pick(1_000, 10),
            Pick::Use { index: 1, .. }
        ));
        assert!(matches!(
            budgets.pick(1_000, 10),
            Pick::Use { index: 1, .. }
        ));
        // Token 1 has 10 left, token 0 has 8: only one more query of 10 points fits.
        assert!(matches!(
            budgets.pick(1_000, 10),
            Pick::Use { index: 1, .. }
        ));
        assert_eq!(
            budgets.pick(1_000, 10),
            Pick::Wait(Duration::from_secs(200))
        );
        assert!(matches!(budgets.pick(1_000, 8), Pick::Use { index: 0, .. }));
    }
}
