//! A small seeded generator for test programs that make random input (the syscall fuzzer,
//! the compat fuzzer): xorshift64*. Fast, and the same seed gives the same run, which is what
//! a reproduction needs; nothing here is fit for secrets.

/// xorshift64* (Marsaglia's xorshift with a multiplying output step).
pub struct XorShift(u64);

impl XorShift {
    /// A generator for `seed`; any seed, 0 too, gives a working state.
    pub const fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn word(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n
    }

    /// True once in `n` times on average.
    pub fn chance(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}
