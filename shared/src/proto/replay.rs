//! The sliding replay window of a session (protocol v2, section 4): a
//! counter is accepted once, and only if it is less than `W` below the
//! highest counter accepted so far. `W` is `64 * WORDS` bits.

/// Accepted counters near the top of a session's counter space.
#[derive(Debug, Clone)]
pub struct ReplayWindow<const WORDS: usize> {
    /// One more than the highest counter accepted (0: none yet).
    next: u64,
    /// Bit `c % W` is set when counter `c` (within the window) was accepted.
    bits: [u64; WORDS],
}

impl<const WORDS: usize> Default for ReplayWindow<WORDS> {
    fn default() -> Self {
        Self {
            next: 0,
            bits: [0; WORDS],
        }
    }
}

impl<const WORDS: usize> ReplayWindow<WORDS> {
    /// Counters the window spans.
    pub const SIZE: u64 = 64 * WORDS as u64;

    fn slot(c: u64) -> (usize, u64) {
        let bit = c % Self::SIZE;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    /// Whether `c` would be accepted (not seen, not too old).
    pub fn check(&self, c: u64) -> bool {
        if c == u64::MAX {
            return false;
        }
        if c >= self.next {
            return true;
        }
        if self.next - c > Self::SIZE {
            return false;
        }
        let (w, m) = Self::slot(c);
        self.bits[w] & m == 0
    }

    /// Records `c` as accepted; call only after [`ReplayWindow::check`]
    /// passed and the frame authenticated. Returns false (and changes
    /// nothing) if `c` is not acceptable.
    pub fn accept(&mut self, c: u64) -> bool {
        if !self.check(c) {
            return false;
        }
        if c >= self.next {
            // Clear the slots of counters that fall out of the window.
            let gap = c - self.next;
            if gap >= Self::SIZE {
                self.bits = [0; WORDS];
            } else {
                for old in self.next..=c {
                    let (w, m) = Self::slot(old);
                    self.bits[w] &= !m;
                }
            }
            self.next = c.saturating_add(1);
        }
        let (w, m) = Self::slot(c);
        self.bits[w] |= m;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_once_and_old_ones_refused() {
        let mut w = ReplayWindow::<2>::default();
        assert_eq!(ReplayWindow::<2>::SIZE, 128);
        assert!(w.accept(0));
        assert!(!w.accept(0), "replay");
        assert!(w.accept(5));
        assert!(w.accept(3), "late but inside the window");
        assert!(!w.accept(3));
        assert!(w.accept(200));
        assert!(!w.check(72), "128 below the top");
        assert!(w.check(73) && w.accept(73));
        assert!(!w.accept(5), "fell out of the window");
        assert!(w.accept(199));
        assert!(!w.accept(200));
        assert!(w.accept(10_000), "a jump clears the window");
        assert!(!w.check(9_000));
        assert!(w.accept(9_999));
        assert!(w.accept(u64::MAX - 1));
        assert!(!w.accept(u64::MAX), "the last counter is never used");
    }

    #[test]
    fn a_full_window_of_reordered_counters_is_accepted_once() {
        let mut w = ReplayWindow::<32>::default();
        let n = ReplayWindow::<32>::SIZE;
        assert!(w.accept(n - 1));
        for c in (0..n - 1).rev() {
            assert!(w.accept(c), "{c}");
        }
        for c in 0..n {
            assert!(!w.accept(c), "{c} twice");
        }
    }
}
