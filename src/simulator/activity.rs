//! What happened to a generated population since start-up: rounds of activity and which
//! entities took part, entities added or deleted, and an index by `updated` per bucket
//! (one bucket for Jira, one per repository for GitHub). Shared by both simulated sources.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::rng::Stream;

pub struct Activity {
    /// Entities generated at start-up; indexes from here on were added later.
    initial: u32,
    /// Entities ever created, deleted ones included.
    count: u32,
    added_created_ms: Vec<i64>,
    rounds_ms: Vec<i64>,
    touched: HashMap<u32, Vec<usize>>,
    deleted: HashSet<u32>,
    updated_ms: Vec<i64>,
    by_updated: Vec<BTreeSet<(i64, u32)>>,
    bucket_of: fn(u32, usize) -> usize,
    buckets: usize,
}

/// Outcome of one round of activity: the entities that changed and those added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub changed: Vec<u32>,
    pub added: Vec<u32>,
}

impl Activity {
    /// Starts from the initial entities' `updated` times; `bucket_of(index, buckets)` says
    /// which ordered index an entity belongs to.
    pub fn new(
        initial_updated_ms: Vec<i64>,
        buckets: usize,
        bucket_of: fn(u32, usize) -> usize,
    ) -> Self {
        let buckets = buckets.max(1);
        let mut by_updated = vec![BTreeSet::new(); buckets];
        for (index, updated) in initial_updated_ms.iter().enumerate() {
            by_updated[bucket_of(index as u32, buckets)].insert((*updated, index as u32));
        }
        Activity {
            initial: initial_updated_ms.len() as u32,
            count: initial_updated_ms.len() as u32,
            added_created_ms: Vec::new(),
            rounds_ms: Vec::new(),
            touched: HashMap::new(),
            deleted: HashSet::new(),
            updated_ms: initial_updated_ms,
            by_updated,
            bucket_of,
            buckets,
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Changes with every round, addition and deletion: what was derived from an equal
    /// version still holds.
    pub fn version(&self) -> (usize, usize, u32) {
        (self.rounds_ms.len(), self.deleted.len(), self.count)
    }

    pub fn is_live(&self, index: u32) -> bool {
        index < self.count && !self.deleted.contains(&index)
    }

    pub fn live(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.count).filter(|index| !self.deleted.contains(index))
    }

    pub fn updated_ms(&self, index: u32) -> i64 {
        self.updated_ms[index as usize]
    }

    /// Live entities of a bucket ordered by (updated, index).
    pub fn by_updated(&self, bucket: usize) -> &BTreeSet<(i64, u32)> {
        &self.by_updated[bucket]
    }

    /// When the rounds an entity took part in happened, oldest first.
    pub fn rounds_of(&self, index: u32) -> Vec<i64> {
        self.touched
            .get(&index)
            .map(|rounds| rounds.iter().map(|r| self.rounds_ms[*r]).collect())
            .unwrap_or_default()
    }

    /// The creation time of an entity added after start-up (None for initial ones).
    pub fn added_created_ms(&self, index: u32) -> Option<i64> {
        index
            .checked_sub(self.initial)
            .map(|added| self.added_created_ms[added as usize])
    }

    fn set_updated(&mut self, index: u32, updated: i64) {
        let bucket = (self.bucket_of)(index, self.buckets);
        let previous = std::mem::replace(&mut self.updated_ms[index as usize], updated);
        self.by_updated[bucket].remove(&(previous, index));
        self.by_updated[bucket].insert((updated, index));
    }

    /// One round at `now_ms` (kept after the previous round): each live entity takes part
    /// with probability `fraction` (drawn from `seed` and `salt`), then a tenth as many new
    /// entities are added. `regenerate` gives an entity's `updated` as of the new state.
    pub fn round(
        &mut self,
        seed: u64,
        salt: u64,
        fraction: f64,
        now_ms: i64,
        regenerate: impl Fn(&Activity, u32) -> i64,
    ) -> Round {
        let round = self.rounds_ms.len();
        let at = self
            .rounds_ms
            .last()
            .map_or(now_ms, |last| now_ms.max(last + 1_000));
        self.rounds_ms.push(at);
        let chosen: Vec<u32> = self
            .live()
            .filter(|index| {
                Stream::new(seed, &[salt, round as u64, u64::from(*index)]).chance(fraction)
            })
            .collect();
        for index in &chosen {
            self.touched.entry(*index).or_default().push(round);
            let updated = regenerate(self, *index);
            self.set_updated(*index, updated);
        }
        let live = self.live().count() as f64;
        let added = if fraction > 0.0 {
            ((live * fraction / 10.0).round() as u64).max(1)
        } else {
            0
        };
        let mut new = Vec::new();
        for _ in 0..added {
            let index = self.count;
            new.push(index);
            self.count += 1;
            self.added_created_ms.push(at);
            self.updated_ms.push(at);
            self.by_updated[(self.bucket_of)(index, self.buckets)].insert((at, index));
            let updated = regenerate(self, index);
            self.set_updated(index, updated);
        }
        Round {
            changed: chosen,
            added: new,
        }
    }

    /// Deletes a `fraction` of live entities (at least one while any is live); returns them.
    pub fn delete(&mut self, seed: u64, salt: u64, fraction: f64) -> Vec<u32> {
        let live: Vec<u32> = self.live().collect();
        let wanted = ((live.len() as f64 * fraction).round() as usize)
            .max(usize::from(!live.is_empty()))
            .min(live.len());
        let mut pick = Stream::new(
            seed,
            &[salt, self.deleted.len() as u64, self.rounds_ms.len() as u64],
        );
        let mut removed = Vec::new();
        while removed.len() < wanted {
            let index = live[pick.below(live.len() as u64) as usize];
            if self.deleted.insert(index) {
                let bucket = (self.bucket_of)(index, self.buckets);
                self.by_updated[bucket].remove(&(self.updated_ms[index as usize], index));
                removed.push(index);
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_parity(index: u32, buckets: usize) -> usize {
        index as usize % buckets
    }

    #[test]
    fn rounds_touch_add_and_reindex() {
        let mut activity = Activity::new(vec![10, 20, 30, 40], 2, by_parity);
        let round = activity.round(1, 9, 1.0, 1_000, |activity, index| {
            1_000 + i64::from(index) + activity.rounds_of(index).len() as i64
        });
        assert_eq!(
            round,
            Round {
                changed: vec![0, 1, 2, 3],
                added: vec![4]
            }
        );
        assert_eq!(activity.count(), 5);
        assert_eq!(activity.rounds_of(2), vec![1_000]);
        assert_eq!(activity.added_created_ms(4), Some(1_000));
        assert_eq!(activity.added_created_ms(3), None);
        assert_eq!(
            activity
                .by_updated(0)
                .iter()
                .map(|(_, i)| *i)
                .collect::<Vec<_>>(),
            vec![0, 2, 4]
        );
        assert_eq!(activity.updated_ms(4), 1_004);
        let second = activity.round(1, 9, 0.0, 500, |_, _| 0);
        assert_eq!(
            second,
            Round {
                changed: Vec::new(),
                added: Vec::new()
            }
        );
        assert_eq!(
            activity.rounds_of(2),
            vec![1_000],
            "a round after `now` still follows the last one"
        );
    }

    #[test]
    fn deleted_entities_leave_the_index() {
        let mut activity = Activity::new(vec![10, 20, 30, 40], 1, by_parity);
        assert_eq!(activity.delete(1, 9, 0.5).len(), 2);
        assert_eq!(activity.live().count(), 2);
        assert_eq!(activity.by_updated(0).len(), 2);
        assert_eq!(activity.delete(1, 9, 0.0).len(), 1, "at least one");
    }
}
