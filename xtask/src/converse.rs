//! A conversation with a guest's serial console, as a course grader has one: wait for some
//! text, type some, wait for the answer. The steps run in order against the output seen so
//! far; each wait has a timeout of its own, so a test fails fast and says what it waited for.
//! The output is read untangled (see [`crate::untangle`]): a kernel log line printed through
//! the middle of a prompt does not hide the prompt.

use crate::untangle::Untangler;
use std::time::{Duration, Instant};

/// One step of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Wait until `text` appears in the output after what the previous wait matched.
    Expect { text: String, within: Duration },
    /// Type these bytes on the serial line.
    Send(Vec<u8>),
}

impl Step {
    /// Waits at most this long for an answer: guest work under TCG is quick, but the first
    /// prompt follows a whole boot.
    pub const WITHIN: Duration = Duration::from_secs(20);

    pub fn expect(text: &str) -> Step {
        Step::Expect { text: text.into(), within: Step::WITHIN }
    }

    /// Types `line` and Enter.
    pub fn line(line: &str) -> Step {
        Step::Send(format!("{line}\r").into_bytes())
    }
}

/// Where a conversation stands.
pub struct Conversation {
    steps: Vec<Step>,
    next: usize,
    /// The output as read, untangled.
    view: Untangler,
    /// How much of the view earlier waits have consumed.
    cursor: usize,
    since: Instant,
}

/// What to do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Type these bytes, then ask again.
    Send(Vec<u8>),
    /// Nothing yet: ask again when more output has come.
    Wait,
    /// Every step is done.
    Done,
    /// A wait timed out: what it waited for.
    Failed(String),
}

impl Conversation {
    pub fn new(steps: Vec<Step>, now: Instant) -> Conversation {
        Conversation { steps, next: 0, view: Untangler::default(), cursor: 0, since: now }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The next turn, given all the output so far.
    pub fn turn(&mut self, output: &str, now: Instant) -> Turn {
        self.view.feed(output, self.cursor);
        loop {
            let Some(step) = self.steps.get(self.next) else { return Turn::Done };
            match step {
                Step::Send(bytes) => {
                    let bytes = bytes.clone();
                    self.advance(now);
                    return Turn::Send(bytes);
                }
                Step::Expect { text, within } => {
                    match self.view.seen().get(self.cursor..).and_then(|rest| rest.find(text.as_str())) {
                        Some(at) => {
                            self.cursor += at + text.len();
                            self.advance(now);
                        }
                        None if now.duration_since(self.since) > *within => {
                            return Turn::Failed(format!(
                                "waited {:.0} s for \"{}\" (step {} of {})",
                                within.as_secs_f64(),
                                text.escape_debug(),
                                self.next + 1,
                                self.steps.len()
                            ));
                        }
                        None => return Turn::Wait,
                    }
                }
            }
        }
    }

    fn advance(&mut self, now: Instant) {
        self.next += 1;
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_order_against_fresh_output() {
        let t0 = Instant::now();
        let mut c = Conversation::new(vec![Step::expect("> "), Step::line("help"), Step::expect("> ")], t0);
        assert_eq!(c.turn("booting", t0), Turn::Wait);
        assert_eq!(c.turn("booting\nseam> ", t0), Turn::Send(b"help\r".to_vec()));
        // The first prompt was consumed: only a new one ends the wait.
        assert_eq!(c.turn("booting\nseam> help\n", t0), Turn::Wait);
        assert_eq!(c.turn("booting\nseam> help\ncommands\nseam> ", t0), Turn::Done);
    }

    #[test]
    fn a_wait_fails_after_its_own_timeout_only() {
        let t0 = Instant::now();
        let within = Duration::from_secs(2);
        let mut c = Conversation::new(vec![Step::Expect { text: "ready".into(), within }], t0);
        assert_eq!(c.turn("", t0 + Duration::from_secs(1)), Turn::Wait);
        match c.turn("", t0 + Duration::from_secs(3)) {
            Turn::Failed(why) => assert!(why.contains("\"ready\"") && why.contains("step 1 of 1"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_clock_restarts_at_each_step() {
        let t0 = Instant::now();
        let within = Duration::from_secs(2);
        let steps = vec![Step::Expect { text: "a".into(), within }, Step::Expect { text: "b".into(), within }];
        let mut c = Conversation::new(steps, t0);
        let late = t0 + Duration::from_secs(10);
        assert_eq!(c.turn("a", late), Turn::Wait, "b has its own two seconds from when a came");
        assert_eq!(c.turn("ab", late + Duration::from_secs(1)), Turn::Done);
    }

    #[test]
    fn a_prompt_torn_by_a_kernel_line_is_still_seen() {
        let t0 = Instant::now();
        let mut c = Conversation::new(vec![Step::expect("killed\n"), Step::expect("seam> ")], t0);
        let raw = "settings: killed\ns[    0.729915] INFO  init[1]: started 'settings'\neam> ";
        assert_eq!(c.turn(raw, t0), Turn::Done);
    }
}
