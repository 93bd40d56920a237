//! A model of how Perfetto's JSON importer reads the trace `cargo xtask trace` writes, so that
//! what the UI will show can be checked here, where ui.perfetto.dev cannot be reached.
//!
//! The rules are those of Perfetto's trace processor (google/perfetto at ec5d16b,
//! `src/trace_processor/`), read for the phases Seam writes (`X`, `s`, `f`, `i`, `M`):
//!
//! - `ts` and `dur` are microseconds, made whole nanoseconds: an integral value times 1,000,
//!   any other rounded (`importers/json/json_trace_tokenizer.cc`, `CoerceToTs`).
//! - Events are sorted by timestamp; at one timestamp a complete event (`X`) comes before any
//!   other, the longer `X` first, and otherwise the file's order stands
//!   (`sorter/trace_sorter.h`, `SlowOperatorLess`, used once the trace has an `X`).
//! - Each thread has a track with a stack of open slices. An `X` first pops the slices that
//!   have ended by its start (an end at its start counts, unless both are instants), then is
//!   pushed;
//!   one that starts inside an open slice and ends after it does not nest, and is spilled to
//!   an overflow track with an import error (`importers/common/slice_tracker.cc`,
//!   `MaybeCloseStack`; `json_trace_parser.cc`).
//! - A flow event binds to the slice on top of its track's stack as it is read, without
//!   popping anything: `s` starts the flow there; `f` with `"bp": "e"` ends it in that slice.
//!   A second `s` with the same id, category and name, an `f` without an `s`, or either with
//!   no slice to bind to are import errors. The arrow goes from whichever of the two slices
//!   starts first, the `s` one if they start together (`importers/common/flow_tracker.cc`).
//!
//! [`check`] applies them and returns, for each flow, the slices it joins, or the first thing
//! Perfetto would drop or report.

use serde_json::Value;
use std::collections::BTreeMap;

/// A slice as Perfetto reads it: its track (pid, tid), name, and span in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    pub track: (u64, u64),
    pub name: String,
    pub start: i64,
    pub end: i64,
}

/// A flow joined as Perfetto joins it: from the slice its `s` bound to, to its `f`'s.
#[derive(Debug)]
pub struct Joined {
    pub name: String,
    pub from: Bound,
    pub to: Bound,
}

/// One event of the trace, as the importer sees it.
struct Read<'a> {
    event: &'a Value,
    phase: char,
    ts: i64,
    dur: i64,
    order: usize,
}

/// Microseconds as Perfetto's `CoerceToTs` makes them nanoseconds.
fn nanoseconds(v: &Value) -> Option<i64> {
    let us = v.as_f64()?;
    Some(if us == us.trunc() { us as i64 * 1000 } else { (us * 1000.0).round() as i64 })
}

fn field<'a>(e: &'a Value, key: &str) -> Result<&'a Value, String> {
    e.get(key).ok_or_else(|| format!("an event without \"{key}\": {e}"))
}

fn number(e: &Value, key: &str) -> Result<u64, String> {
    field(e, key)?.as_u64().ok_or_else(|| format!("\"{key}\" is not a whole number: {e}"))
}

/// Reads `trace` (an object with `traceEvents`) by the importer's rules; returns the flows
/// joined, or the first event Perfetto would drop or report as an import error.
pub fn check(trace: &Value) -> Result<Vec<Joined>, String> {
    let events = trace["traceEvents"].as_array().ok_or("no traceEvents array")?;
    let mut read = Vec::with_capacity(events.len());
    for (order, event) in events.iter().enumerate() {
        let phase = field(event, "ph")?.as_str().and_then(|p| p.chars().next()).ok_or("\"ph\" is not a phase")?;
        if !matches!(phase, 'X' | 's' | 'f' | 'i' | 'M') {
            return Err(format!("a phase the check does not model: {event}"));
        }
        let ts = match phase {
            'M' => 0,
            _ => nanoseconds(field(event, "ts")?).ok_or_else(|| format!("\"ts\" is not a number: {event}"))?,
        };
        let dur = match phase {
            'X' => nanoseconds(field(event, "dur")?).ok_or_else(|| format!("\"dur\" is not a number: {event}"))?,
            _ => 0,
        };
        read.push(Read { event, phase, ts, dur, order });
    }
    let key = |r: &Read| if r.phase == 'X' { i64::MAX - r.dur } else { i64::MAX };
    read.sort_by_key(|r| (r.ts, key(r), r.order));

    let mut stacks: BTreeMap<(u64, u64), Vec<Bound>> = BTreeMap::new();
    let mut started: BTreeMap<(u64, String, String), Bound> = BTreeMap::new();
    let mut joined = Vec::new();
    for r in &read {
        let e = r.event;
        if r.phase == 'M' || r.phase == 'i' {
            continue;
        }
        let track = (number(e, "pid")?, number(e, "tid")?);
        let name = field(e, "name")?.as_str().unwrap_or_default().to_string();
        let stack = stacks.entry(track).or_default();
        match r.phase {
            'X' => {
                while let Some(top) = stack.last() {
                    let both_instants = top.end == top.start && r.dur == 0;
                    if top.end < r.ts || (top.end == r.ts && !both_instants) {
                        stack.pop();
                    } else if r.ts + r.dur > top.end {
                        return Err(format!(
                            "a slice that does not nest, spilled to an overflow track: {e} (in {top:?}, in ns)"
                        ));
                    } else {
                        break;
                    }
                }
                stack.push(Bound { track, name, start: r.ts, end: r.ts + r.dur });
            }
            's' | 'f' => {
                let cat = e.get("cat").and_then(Value::as_str).unwrap_or_default().to_string();
                let slice = stack.last().cloned().ok_or_else(|| format!("a flow with no slice to bind to: {e}"))?;
                let flow = (number(e, "id")?, cat, name.clone());
                if r.phase == 's' {
                    if started.insert(flow, slice).is_some() {
                        return Err(format!("a flow id started twice: {e}"));
                    }
                } else {
                    if e.get("bp").and_then(Value::as_str) != Some("e") {
                        return Err(format!("a flow end not bound to its enclosing slice: {e}"));
                    }
                    let from = started.remove(&flow).ok_or_else(|| format!("a flow end without a start: {e}"))?;
                    let (from, to) = if from.start > slice.start { (slice, from) } else { (from, slice) };
                    joined.push(Joined { name, from, to });
                }
            }
            _ => unreachable!("phases checked above"),
        }
    }
    if let Some(((id, _, name), _)) = started.into_iter().next() {
        return Err(format!("a flow started and never ended: {name} {id}"));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn x(tid: u64, name: &str, ts: f64, dur: f64) -> Value {
        json!({ "name": name, "cat": "ipc", "ph": "X", "pid": 1, "tid": tid, "ts": ts, "dur": dur })
    }

    fn flow(ph: &str, tid: u64, id: u64, ts: f64) -> Value {
        json!({ "name": "call", "cat": "ipc", "ph": ph, "bp": "e", "id": id, "pid": 1, "tid": tid, "ts": ts })
    }

    #[test]
    fn a_flow_binds_to_the_slice_it_starts_with_even_when_listed_before_it() {
        // At one nanosecond the slice is read before the flow, whatever the file's order.
        let trace = json!({ "traceEvents": [
            flow("s", 1, 7, 1.0), x(1, "call", 1.0, 3.0), x(2, "serve", 2.0, 1.0), flow("f", 2, 7, 2.0),
        ]});
        let joined = check(&trace).unwrap();
        assert_eq!((joined[0].from.name.as_str(), joined[0].to.name.as_str()), ("call", "serve"));
    }

    #[test]
    fn a_flow_binds_to_the_last_slice_read_on_its_track_even_if_it_has_ended() {
        let trace = json!({ "traceEvents": [
            x(1, "first", 1.0, 1.0), x(1, "second", 3.0, 1.0), flow("s", 1, 7, 5.0), x(2, "serve", 6.0, 1.0),
            flow("f", 2, 7, 6.0),
        ]});
        assert_eq!(check(&trace).unwrap()[0].from.name, "second");
    }

    #[test]
    fn the_arrow_goes_from_the_slice_that_starts_first() {
        let trace = json!({ "traceEvents": [
            x(1, "call", 1.0, 3.0), x(2, "serve", 2.0, 1.0), flow("s", 2, 7, 3.0), flow("f", 1, 7, 4.0),
        ]});
        let joined = check(&trace).unwrap();
        assert_eq!((joined[0].from.name.as_str(), joined[0].to.name.as_str()), ("call", "serve"));
    }

    #[test]
    fn what_perfetto_would_report_is_an_error() {
        let unnested = json!({ "traceEvents": [x(1, "a", 1.0, 2.0), x(1, "b", 2.0, 2.0)] });
        assert!(check(&unnested).unwrap_err().contains("does not nest"));
        let unbound = json!({ "traceEvents": [flow("s", 1, 7, 1.0)] });
        assert!(check(&unbound).unwrap_err().contains("no slice"));
        let twice = json!({ "traceEvents": [x(1, "a", 1.0, 2.0), flow("s", 1, 7, 1.0), flow("s", 1, 7, 1.5)] });
        assert!(check(&twice).unwrap_err().contains("started twice"));
        let open = json!({ "traceEvents": [x(1, "a", 1.0, 2.0), flow("s", 1, 7, 1.0)] });
        assert!(check(&open).unwrap_err().contains("never ended"));
        let unknown = json!({ "traceEvents": [{ "ph": "B", "ts": 1, "pid": 1, "tid": 1 }] });
        assert!(check(&unknown).is_err());
    }

    #[test]
    fn sub_nanosecond_parts_are_rounded_away() {
        assert_eq!(nanoseconds(&json!(2)), Some(2000));
        assert_eq!(nanoseconds(&json!(1.0004)), Some(1000));
        assert_eq!(nanoseconds(&json!(1.0006)), Some(1001));
    }
}
