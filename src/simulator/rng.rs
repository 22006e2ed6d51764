//! Deterministic pseudo-randomness: every value is a pure function of the seed and the
//! entity it belongs to, so any entity can be produced alone, in any order, identically.

/// SplitMix64's finaliser: a fast, well-mixed bijection on u64.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A stream of values for one entity and purpose.
#[derive(Debug, Clone)]
pub struct Stream {
    state: u64,
}

impl Stream {
    /// A stream keyed by the seed and any number of identifying parts.
    pub fn new(seed: u64, parts: &[u64]) -> Self {
        let state = parts
            .iter()
            .fold(mix(seed), |state, part| mix(state ^ mix(*part)));
        Stream { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = high.saturating_sub(low).max(0) as u64;
        low + self.below(span + 1) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen with the given relative weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            let weight = u64::from(*weight);
            if roll < weight {
                return index;
            }
            roll -= weight;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_values_different_key_different_values() {
        let a: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(Stream::new(7, &[1, 2]), |s, _| Some(s.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(Stream::new(7, &[1, 2]), |s, _| Some(s.next_u64()))
            .collect();
        let c: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(Stream::new(7, &[1, 3]), |s, _| Some(s.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut stream = Stream::new(1, &[]);
        for _ in 0..10_000 {
            assert!(stream.below(7) < 7);
            let v = stream.between(-3, 3);
            assert!((-3..=3).contains(&v));
            assert!(stream.weighted(&[0, 5, 0, 1]) % 2 == 1);
        }
        assert_eq!(stream.below(0), 0);
    }
}
