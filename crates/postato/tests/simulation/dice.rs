//! The simulation's only source of randomness: a seeded generator, so a seed replays a run.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub struct Dice(Pcg64Mcg);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Dice(Pcg64Mcg::seed_from_u64(seed))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.0.next_u64() % n
        }
    }

    /// Uniform in [low, high].
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// A probability: 0 half the time, else up to `max`.
    pub fn rate(&mut self, max: f64) -> f64 {
        if self.chance(0.5) {
            0.0
        } else {
            self.unit() * max
        }
    }
}
