//! What `cargo xtask fuzz` and the `fuzz` program (userspace/apps/fuzz) agree on: the line that
//! starts each batch of children, and the replay file with which the shrinker has one batch
//! run again with only some of its calls made.
//!
//! The replay file, at [`REPLAY_PATH`] in the ramdisk, holds batches, run one after another.
//! Each is a line `SEED CALLS`, then one line per child of the batch (child `i` runs seed
//! `SEED + i`), each a [`Keep`]: `all`, `none`, or the indices of the calls to make, as
//! inclusive ranges joined by dots (`0-12.40.97-99`). A child still draws every call of its
//! sequence from its seed, so that each kept call has the arguments it had in the full run,
//! and makes only the kept ones. Several batches let one boot try several candidates: the
//! shrinker wants the first that fails, and a failure ends the boot there.
//!
//! Parsing borrows the text and allocates nothing.

use core::fmt;

/// Where the replay file is in the ramdisk.
pub const REPLAY_PATH: &str = "etc/fuzz-replay";
/// How a line that starts a batch begins: `fuzz: batch FIRST..END, CALLS calls each`, and for
/// batch `N` of a replay file, `, replay N` after.
pub const BATCH_LINE: &str = "fuzz: batch ";
/// How the line the supervisor prints when it gives up begins.
pub const SUPERVISOR_FAILED: &str = "fuzz: the supervisor failed";
/// The exit code of a child that met the failure planted to try the shrinker (`plant`): it
/// copied or minted a capability into a slot of its own, then inspected that slot.
pub const PLANTED_EXIT: u64 = 77;

/// Which calls of a child's sequence it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep<'a> {
    All,
    None,
    /// Inclusive ranges of call indices, ascending and apart: `0-12.40.97-99`.
    Ranges(&'a str),
}

impl<'a> Keep<'a> {
    /// `None` unless `text` is `all`, `none`, or ranges in ascending order that do not touch.
    pub fn parse(text: &'a str) -> Option<Keep<'a>> {
        match text.trim() {
            "all" => Some(Keep::All),
            "none" => Some(Keep::None),
            ranges => {
                let mut end = None;
                for range in ranges.split('.') {
                    let (a, b) = parse_range(range)?;
                    if end.is_some_and(|e: u64| a <= e.saturating_add(1)) || b < a {
                        return None;
                    }
                    end = Some(b);
                }
                Some(Keep::Ranges(ranges))
            }
        }
    }

    /// The ranges kept (for `All`, everything; for `None`, nothing).
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        let (all, text) = match *self {
            Keep::All => (Some((0, u64::MAX)), ""),
            Keep::None => (None, ""),
            Keep::Ranges(text) => (None, text),
        };
        all.into_iter().chain(text.split('.').filter(|r| !r.is_empty()).filter_map(parse_range))
    }
}

fn parse_range(text: &str) -> Option<(u64, u64)> {
    match text.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => text.parse().ok().map(|a| (a, a)),
    }
}

/// Call indices (ascending, each once) written as a [`Keep`]: `none` when there are none.
pub struct Indices<'a>(pub &'a [u64]);

impl fmt::Display for Indices<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            while i + 1 < self.0.len() && self.0[i + 1] == self.0[i] + 1 {
                i += 1;
            }
            let sep = if start == self.0[0] { "" } else { "." };
            match self.0[i] {
                end if end == start => write!(f, "{sep}{start}")?,
                end => write!(f, "{sep}{start}-{end}")?,
            }
            i += 1;
        }
        Ok(())
    }
}

/// A batch's first line: its first seed and each child's number of calls.
pub fn parse_header(line: &str) -> Option<(u64, u64)> {
    let mut words = line.split_whitespace();
    let seed = words.next()?.parse().ok()?;
    let calls = words.next()?.parse().ok()?;
    words.next().is_none().then_some((seed, calls))
}

/// A batch's first line has two words; a child's line, one.
fn is_header(line: &str) -> bool {
    line.trim().contains(char::is_whitespace)
}

/// One batch of a replay file.
pub struct ReplayBatch<'a> {
    pub seed: u64,
    pub calls: u64,
    rest: core::str::Lines<'a>,
}

impl<'a> ReplayBatch<'a> {
    /// Batch `index` of the replay file `text`.
    pub fn nth(text: &'a str, index: usize) -> Option<ReplayBatch<'a>> {
        let mut lines = text.lines();
        let mut seen = 0;
        loop {
            let line = lines.next()?;
            if is_header(line) {
                if seen == index {
                    let (seed, calls) = parse_header(line)?;
                    return Some(ReplayBatch { seed, calls, rest: lines });
                }
                seen += 1;
            }
        }
    }

    /// Its children's lines, in order; `None` for one that is not a [`Keep`].
    pub fn keeps(&self) -> impl Iterator<Item = Option<Keep<'a>>> + 'a {
        self.rest.clone().take_while(|l| !is_header(l)).filter(|l| !l.trim().is_empty()).map(Keep::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_written_as_ranges_and_read_back() {
        let indices = [0, 1, 2, 3, 7, 9, 10, 40];
        let text = Indices(&indices).to_string();
        assert_eq!(text, "0-3.7.9-10.40");
        let keep = Keep::parse(&text).unwrap();
        let back: Vec<u64> = keep.ranges().flat_map(|(a, b)| a..=b).collect();
        assert_eq!(back, indices);
        assert_eq!(Indices(&[]).to_string(), "none");
        assert_eq!(Indices(&[5]).to_string(), "5");
    }

    #[test]
    fn all_none_and_bad_specs() {
        assert_eq!(Keep::parse("all").unwrap().ranges().collect::<Vec<_>>(), [(0, u64::MAX)]);
        assert_eq!(Keep::parse(" none\n").unwrap().ranges().count(), 0);
        for bad in ["", "3-1", "1.1", "1-3.4", "4.2", "x", "1-", "1..2", "-3"] {
            assert_eq!(Keep::parse(bad), None, "{bad:?}");
        }
        assert!(Keep::parse("1-3.5").is_some());
    }

    #[test]
    fn a_replay_file_holds_batches() {
        let text = "9 600\nnone\n0-3\n\n9 600\n5\n11 10\nall\n";
        let first = ReplayBatch::nth(text, 0).unwrap();
        assert_eq!((first.seed, first.calls), (9, 600));
        assert_eq!(first.keeps().collect::<Vec<_>>(), [Some(Keep::None), Some(Keep::Ranges("0-3"))]);
        assert_eq!(ReplayBatch::nth(text, 1).unwrap().keeps().count(), 1);
        let last = ReplayBatch::nth(text, 2).unwrap();
        assert_eq!((last.seed, last.calls, last.keeps().count()), (11, 10, 1));
        assert!(ReplayBatch::nth(text, 3).is_none());
    }

    #[test]
    fn the_header_is_a_seed_and_a_count() {
        assert_eq!(parse_header("17 5000"), Some((17, 5000)));
        assert_eq!(parse_header("17"), None);
        assert_eq!(parse_header("17 5000 3"), None);
    }
}
