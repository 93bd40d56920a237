//! The measure-and-explain lab: where a round trip's instructions go, in the student's
//! figures, checked against the grader's own (the benchmark and the breakdown, both under
//! `-icount shift=0`, so exact), and why, in the student's words (checked for length here,
//! read by a person).

use super::*;
use crate::breakdown::Step;

/// The answers file the start adds ([`ANSWERS_FILE`]).
const ANSWERS: &str = "labs/ipccost/answers.toml";

/// The operation of the breakdown the answers take apart.
const ROUND_TRIP: &str = "ipc_call_reply_0";

const BENCH_KEYS: &[&str] = &["bench.null_syscall", "bench.ipc_call_reply_0"];
const PHASE_KEYS: &[&str] =
    &["round_trip.total", "round_trip.client", "round_trip.call", "round_trip.server", "round_trip.reply_recv"];
const PART_KEYS: &[&str] = &["round_trip.entry_exit", "round_trip.switch"];
const EXPLAIN_KEYS: &[&str] = &["explain.bench_vs_breakdown", "explain.two_null_calls", "explain.one_change"];

/// The fewest words an explanation may have.
const MIN_WORDS: usize = 40;

pub(super) fn ipccost() -> Lab {
    let answers =
        |keys, groups, breakdown, judge| Test::Answers(AnswersCheck { file: ANSWERS, keys, groups, breakdown, judge });
    Lab {
        name: "ipccost",
        title: "measure a round trip and explain where its instructions go",
        kind: Kind::Extension,
        protected: &["xtask", "userspace/apps/bench", "userspace/bench-stats"],
        checks: vec![
            check("answers: the benchmark's figures", 2, OnStart::Fails, answers(BENCH_KEYS, "null,ipc", false, bench)),
            check("answers: the round trip's phases", 4, OnStart::Fails, answers(PHASE_KEYS, "", true, phases)),
            check("answers: entry, exit and the switch", 2, OnStart::Fails, answers(PART_KEYS, "", true, parts)),
            check("answers: the explanations", 2, OnStart::Fails, answers(EXPLAIN_KEYS, "", false, explanations)),
        ],
    }
}

/// Whether a student's figure is the grader's, give or take 2% (at least 2 instructions):
/// under icount the figures are exact, so this only forgives a measurement made a commit ago.
fn close(answer: u64, measured: u64) -> bool {
    answer.abs_diff(measured) <= (measured / 50).max(2)
}

/// Each answer against its measured figure; the failures do not say the figure (running the
/// tools is the lab), only which answers are off.
fn compare(answers: &Answers, pairs: &[(&str, u64)]) -> Result<String, String> {
    let mut off = Vec::new();
    for (key, measured) in pairs {
        if !close(answers.number(key)?, *measured) {
            off.push(*key);
        }
    }
    if off.is_empty() {
        Ok(pairs.iter().map(|(k, m)| format!("{k} {m}")).collect::<Vec<_>>().join(", "))
    } else {
        Err(format!("not what the grader measured on this tree (within 2%): {}", off.join(", ")))
    }
}

fn bench(answers: &Answers, measured: &Measured) -> Result<String, String> {
    let pairs = [
        ("bench.null_syscall", figure(measured.figures, "null_syscall")?),
        ("bench.ipc_call_reply_0", figure(measured.figures, ROUND_TRIP)?),
    ];
    compare(answers, &pairs)
}

/// The round trip's instructions, as the grader stepped them.
fn round_trip<'a>(measured: &'a Measured) -> Result<&'a [Step], String> {
    let op = measured.breakdown.iter().find(|op| op.name == ROUND_TRIP);
    op.map(|op| &op.steps[..]).ok_or_else(|| format!("the breakdown has no {ROUND_TRIP}"))
}

/// A round trip in four phases, split where it enters and leaves the kernel.
#[derive(Debug, PartialEq, Eq)]
struct Phases {
    /// User instructions before the first kernel instruction and after the last.
    client: u64,
    /// The first stretch in the kernel: the client's `Call`, up to the server's return to user.
    call: u64,
    /// User instructions between the two stretches.
    server: u64,
    /// The second stretch: the server's `ReplyRecv`, up to the client's return to user.
    reply_recv: u64,
}

/// The phases of `steps`, if it enters the kernel exactly twice (a call and a reply).
fn split(steps: &[Step]) -> Option<Phases> {
    let mut stretches: Vec<(usize, usize)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match stretches.last_mut() {
            Some((_, end)) if step.in_kernel() && *end == i => *end = i + 1,
            _ if step.in_kernel() => stretches.push((i, i + 1)),
            _ => {}
        }
    }
    let [(a, b), (c, d)] = stretches[..] else { return None };
    let n = |x: usize| x as u64;
    Some(Phases { client: n(a + steps.len() - d), call: n(b - a), server: n(c - b), reply_recv: n(d - c) })
}

fn phases(answers: &Answers, measured: &Measured) -> Result<String, String> {
    let steps = round_trip(measured)?;
    let p = split(steps).ok_or("the round trip did not enter the kernel exactly twice")?;
    let parts = ["round_trip.client", "round_trip.call", "round_trip.server", "round_trip.reply_recv"];
    let sum: u64 = parts.iter().map(|k| answers.number(k)).sum::<Result<u64, String>>()?;
    let total = answers.number("round_trip.total")?;
    if sum != total {
        return Err(format!("the four phases add up to {sum}, not to round_trip.total ({total})"));
    }
    compare(
        answers,
        &[
            ("round_trip.total", steps.len() as u64),
            ("round_trip.client", p.client),
            ("round_trip.call", p.call),
            ("round_trip.server", p.server),
            ("round_trip.reply_recv", p.reply_recv),
        ],
    )
}

/// Instructions in the entry and exit code (by ELF symbol), and in the switch's module (by
/// innermost function, inlined ones included).
fn parts(answers: &Answers, measured: &Measured) -> Result<String, String> {
    let steps = round_trip(measured)?;
    let count = |f: &dyn Fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count() as u64;
    let entry_exit = count(&|s| s.symbol == "seam_syscall_entry" || s.symbol == "seam_fast_exit");
    let switch = count(&|s| s.inner.starts_with("seam_kernel::task::table::switch::"));
    if entry_exit == 0 || switch == 0 {
        return Err("the breakdown lacks the entry, the exit or the switch: has the kernel changed?".into());
    }
    compare(answers, &[("round_trip.entry_exit", entry_exit), ("round_trip.switch", switch)])
}

/// Each explanation has at least [`MIN_WORDS`] words and cites a figure; what it says is for
/// a person to read.
fn explanations(answers: &Answers, _: &Measured) -> Result<String, String> {
    let mut words = Vec::new();
    for key in EXPLAIN_KEYS {
        let text = answers.text(key)?;
        let n = text.split_whitespace().count();
        if n < MIN_WORDS {
            return Err(format!("{key} has {n} words; at least {MIN_WORDS}"));
        }
        if !text.chars().any(|c| c.is_ascii_digit()) {
            return Err(format!("{key} cites no figure"));
        }
        words.push(format!("{n}"));
    }
    Ok(format!("{} words (read by hand)", words.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(shape: &str) -> Vec<Step> {
        let pc = |c| if c == 'k' { ipc::boot::KERNEL_BASE } else { 0x40_0000 };
        shape.chars().map(|c| Step { pc: pc(c), symbol: String::new(), inner: String::new() }).collect()
    }

    #[test]
    fn a_round_trip_splits_where_it_enters_and_leaves_the_kernel() {
        assert_eq!(split(&steps("uukkkuukkkku")), Some(Phases { client: 3, call: 3, server: 2, reply_recv: 4 }));
        assert_eq!(split(&steps("kkuk")), Some(Phases { client: 0, call: 2, server: 1, reply_recv: 1 }));
        assert_eq!(split(&steps("ukuuk")).map(|p| p.client), Some(1));
        assert_eq!(split(&steps("ukukuk")), None);
        assert_eq!(split(&steps("uuu")), None);
    }

    #[test]
    fn figures_must_be_close_and_answers_filled_in() {
        assert!(close(442, 442) && close(450, 442) && close(34, 33) && !close(452, 442) && !close(30, 33));
        let answers =
            Answers::parse("[bench]\nnull_syscall = 73\nipc_call_reply_0 = 0\n[explain]\none_change = \" \"\n")
                .expect("TOML");
        assert_eq!(
            answers.unfilled(&["bench.null_syscall", "bench.ipc_call_reply_0", "explain.one_change", "bench.nothing"]),
            ["bench.ipc_call_reply_0", "explain.one_change", "bench.nothing"]
        );
        assert_eq!(answers.number("bench.null_syscall"), Ok(73));
        let off = compare(&answers, &[("bench.null_syscall", 80)]).unwrap_err();
        assert!(off.contains("bench.null_syscall") && !off.contains("80"), "{off}");
    }

    #[test]
    fn explanations_need_words_and_a_figure() {
        let long = "word ".repeat(MIN_WORDS);
        let text = |a: &str| {
            format!("[explain]\nbench_vs_breakdown = \"{a}\"\ntwo_null_calls = \"{long} 146\"\none_change = \"{long} 30\"\n")
        };
        let none = Measured { figures: &[], breakdown: &[] };
        assert!(explanations(&Answers::parse(&text(&format!("{long} 68"))).unwrap(), &none).is_ok());
        assert!(explanations(&Answers::parse(&text(&long)).unwrap(), &none).unwrap_err().contains("cites no figure"));
        assert!(explanations(&Answers::parse(&text("too short 1")).unwrap(), &none).unwrap_err().contains("3 words"));
    }
}
