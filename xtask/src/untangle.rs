//! Two writers share the guest's serial line: the kernel's log and the console server, which
//! drives COM1 itself. The kernel writes a log line whole (its console lock is held with
//! interrupts off), but it may do so while the console server is half-way through a line of
//! its own, so the output can read `s[    0.729915] INFO  init[1]: ...\neam> `. A test that
//! waits for `seam> ` would then wait for ever.
//!
//! [`Untangler`] rebuilds the output with every kernel line that began in the middle of
//! another line moved to just before that line, where it was printed in time order but not
//! torn through: `[    0.729915] INFO  init[1]: ...\nseam> `. Nothing is dropped, so a test
//! can still wait for a kernel line. It works on the output as it grows, and never moves text
//! a reader has already consumed.

/// Builds the untangled view of a growing output.
#[derive(Default)]
pub struct Untangler {
    view: String,
    /// How much of the raw output is in `view`.
    taken: usize,
    /// Where the line being written begins in `view`.
    line_start: usize,
}

/// What a piece of output that starts with `[` in the middle of a line is.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A whole kernel log line of this many bytes, its newline included.
    Kernel(usize),
    /// The start of what may be a kernel line: wait for more output.
    Partial,
    /// Not a kernel line.
    Text,
}

/// The kernel's log line: `[SSSSS.UUUUUU] LEVEL message\n` (see `kernel/src/console.rs`).
fn head(rest: &str) -> Head {
    const LEVELS: [&str; 4] = ["ERROR ", "WARN  ", "INFO  ", "DEBUG "];
    let b = rest.as_bytes();
    let mut i = 1; // past the '['
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let seconds = digits(i);
    i += seconds;
    if i == b.len() {
        return Head::Partial;
    }
    if seconds == 0 || b[i] != b'.' {
        return Head::Text;
    }
    i += 1;
    let micros = digits(i);
    i += micros;
    if i == b.len() {
        return if micros <= 6 { Head::Partial } else { Head::Text };
    }
    if micros != 6 {
        return Head::Text;
    }
    let tail = &rest[i..];
    let tag = "] ";
    let fits = |whole: &str, part: &str| whole.starts_with(part) || part.starts_with(whole);
    if !fits(tag, tail) {
        return Head::Text;
    }
    let Some(after) = tail.get(tag.len()..) else { return Head::Partial };
    if !LEVELS.iter().any(|l| fits(l, after)) {
        return Head::Text;
    }
    match rest.find('\n') {
        Some(end) if LEVELS.iter().any(|l| after.starts_with(l)) => Head::Kernel(end + 1),
        Some(_) => Head::Text,
        None => Head::Partial,
    }
}

impl Untangler {
    /// Takes in what `raw` has beyond what was seen before (`raw` only ever grows), moving
    /// torn-through kernel lines no earlier than `floor`: a reader's place in the view, before
    /// which the view never changes.
    pub fn feed(&mut self, raw: &str, floor: usize) -> &str {
        self.take(raw, floor, false);
        &self.view
    }

    /// The view so far.
    pub fn seen(&self) -> &str {
        &self.view
    }

    /// The untangled view of a finished output.
    pub fn whole(raw: &str) -> String {
        let mut u = Untangler::default();
        u.take(raw, 0, true);
        u.view
    }

    fn take(&mut self, raw: &str, floor: usize, finished: bool) {
        while let Some(c) = raw.get(self.taken..).and_then(|r| r.chars().next()) {
            let mid_line = self.view.len() > self.line_start;
            if c == '[' && mid_line {
                match head(&raw[self.taken..]) {
                    Head::Kernel(len) => {
                        let at = self.line_start.max(floor.min(self.view.len()));
                        self.view.insert_str(at, &raw[self.taken..self.taken + len]);
                        self.taken += len;
                        self.line_start = at + len;
                        continue;
                    }
                    Head::Partial if !finished => return,
                    Head::Partial | Head::Text => {}
                }
            }
            self.view.push(c);
            self.taken += c.len_utf8();
            if c == '\n' {
                self.line_start = self.view.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "[    0.729915] INFO  init[1]: init: started 'settings' (pid 13, priority 180)\n";

    #[test]
    fn a_kernel_line_through_a_prompt_moves_before_it() {
        let raw = format!("settings: killed\ns{KERNEL}eam> ");
        assert_eq!(Untangler::whole(&raw), format!("settings: killed\n{KERNEL}seam> "));
    }

    #[test]
    fn kernel_lines_at_line_starts_and_user_brackets_stay() {
        let raw = format!("{KERNEL}list [1, 2] [3.5] [ 12.000001]x\n[    1.000000] WARN  late\n");
        assert_eq!(Untangler::whole(&raw), raw);
    }

    #[test]
    fn every_split_of_the_output_gives_the_same_view() {
        let raw = format!("a\nse{KERNEL}am> he{KERNEL}lp\n");
        let whole = Untangler::whole(&raw);
        assert_eq!(whole, format!("a\n{KERNEL}{KERNEL}seam> help\n"));
        for cut in 0..=raw.len() {
            let mut u = Untangler::default();
            u.feed(&raw[..cut], 0);
            assert_eq!(u.feed(&raw, 0), whole, "output seen first up to byte {cut}");
        }
    }

    #[test]
    fn a_half_written_kernel_line_waits() {
        let mut u = Untangler::default();
        assert_eq!(u.feed("seam> [    0.72", 0), "seam> ");
        let raw = format!("seam> {KERNEL}");
        assert_eq!(u.feed(&raw, 0), format!("{KERNEL}seam> "));
        // A finished output has nothing more to wait for.
        assert_eq!(Untangler::whole("seam> [    0.72"), "seam> [    0.72");
    }

    #[test]
    fn consumed_text_never_moves() {
        let mut u = Untangler::default();
        let seen = u.feed("seam> ", 0).len();
        let raw = format!("seam> {KERNEL}");
        assert_eq!(u.feed(&raw, seen), format!("seam> {KERNEL}"));
    }
}
