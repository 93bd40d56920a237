//! `cargo xtask trace`: boots a system with the kernel's IPC trace on and the `tracer`
//! program in it, lets it run, collects the events `tracer` prints, and writes them as a
//! Chrome/Perfetto JSON trace (the Trace Event Format that ui.perfetto.dev and
//! chrome://tracing open):
//! - one track per thread, in one process per Seam process (named as the kernel's log named
//!   them), with a slice `call LABEL` from each call to its answer on the caller's track,
//!   and a slice `serve LABEL` from the receive to the reply on the server's;
//! - flow arrows from each call to the receive that took it, and from each reply back to
//!   the caller; from a send to its receive;
//! - a `CPU` track with a slice per stretch a thread ran (from the switches);
//! - faults as instant events.
//!
//! The guest runs under `-icount shift=0`, as the benchmarks do: a TSC cycle is then one
//! guest instruction, and the trace's microseconds are instructions divided by the TSC
//! rate the kernel measured at boot.

use crate::artifacts::{self, Builder};
use crate::converse::Step;
use crate::perfetto;
use crate::qemu::{self, Accel, Firmware, Machine};
use crate::TraceArgs;
use anyhow::{bail, Context, Result};
use ipc::boot::KEY_TRACE;
use ipc::trace::{Event, Kind, EVENT_WORDS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The tracer's entry in the booted system: the introspection capability it reads with,
/// below every server so it sleeps while they work.
fn tracer_entry(ms: u64) -> String {
    format!(
        "\n[[program]]\nname = \"tracer\"\npriority = 10\nmemory = \"4 MiB\"\nintrospect = true\nargs = [\"{ms}\"]\n"
    )
}

pub fn run(args: &TraceArgs) -> Result<()> {
    let path = args.system.clone().unwrap_or_else(|| artifacts::root().join("userspace").join("system.toml"));
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let builder = Builder::new(true)?;
    let system = builder.system_text(&format!("{text}{}", tracer_entry(args.ms)))?;
    let images = builder.make_with("trace", KEY_TRACE, &[Firmware::Bios], &[system])?;
    let machine = Machine::new(Accel::Tcg, 1, Firmware::Bios)?.with_icount()?;
    println!("{}", machine.description());
    println!("seam: booting {} with the IPC trace on; tracer reads it after {} ms...", path.display(), args.ms);
    let within = Duration::from_secs(args.timeout);
    let steps = vec![Step::Expect { text: "trace: end".into(), within }];
    let run = qemu::converse(&machine, images.get(Firmware::Bios), within, steps)?;
    if let Some(Err(why)) = &run.conversation {
        println!("{}", run.output);
        bail!("the trace was not collected: {why}");
    }
    let collected = Collected::parse(&run.output)?;
    let trace = collected.to_json();
    let joined =
        perfetto::check(&trace).map_err(|why| anyhow::anyhow!("Perfetto would not read the trace as meant: {why}"))?;
    if let Some(j) = joined.iter().find(|j| !joins_as_meant(j)) {
        bail!("Perfetto would join flow '{}' from {:?} to {:?}", j.name, j.from, j.to);
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string(&trace)? + "\n")
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let count = |k: Kind| collected.events.iter().filter(|e| e.kind == k).count();
    println!(
        "{} events ({} calls, {} replies, {} sends, {} receives, {} switches, {} faults), {} lost, {} processes",
        collected.events.len(),
        count(Kind::Call),
        count(Kind::Reply),
        count(Kind::Send),
        count(Kind::Receive),
        count(Kind::Switch),
        count(Kind::Fault),
        collected.lost,
        collected.names.len()
    );
    println!(
        "read by Perfetto's import rules (xtask/src/perfetto.rs): every slice nests, {} flows join the slices they belong to",
        joined.len()
    );
    println!("wrote {}: open it at https://ui.perfetto.dev (Open trace file) or chrome://tracing", args.out.display());
    Ok(())
}

/// Whether a flow, as Perfetto joins it, goes between the slices it is drawn for: a call from
/// the caller's `call` slice to the server's `serve` slice, a reply back, a send from its
/// `send` point to the `receive` point.
fn joins_as_meant(j: &perfetto::Joined) -> bool {
    let (from, to) = (j.from.name.split(' ').next(), j.to.name.split(' ').next());
    match j.name.as_str() {
        "call" => (from, to) == (Some("call"), Some("serve")),
        "reply" => (from, to) == (Some("reply"), Some("answer")),
        "send" => (from, to) == (Some("send"), Some("receive")),
        _ => false,
    }
}

/// What a traced run printed.
pub struct Collected {
    pub events: Vec<Event>,
    pub lost: u64,
    /// Process names by pid, from the kernel's and init's `started 'NAME' (pid N` lines.
    pub names: BTreeMap<u32, String>,
    /// The TSC rate the kernel measured, in MHz.
    pub tsc_mhz: f64,
}

impl Collected {
    pub fn parse(output: &str) -> Result<Collected> {
        let mut events = Vec::new();
        let mut lost = None;
        let mut names = BTreeMap::new();
        let mut tsc_mhz = None;
        for line in output.lines() {
            if let Some(rest) = line.split_once("trace: ").map(|(_, r)| r) {
                if let Some(end) = rest.strip_prefix("end ") {
                    lost = end.split(", ").nth(1).and_then(|l| l.strip_suffix(" lost")).and_then(|l| l.parse().ok());
                    continue;
                }
                let words: Vec<u64> = rest.split(' ').filter_map(|w| u64::from_str_radix(w, 16).ok()).collect();
                let words: [u64; EVENT_WORDS] =
                    words.try_into().map_err(|_| anyhow::anyhow!("a trace line that is not four words: {line}"))?;
                events.push(Event::from_words(words).with_context(|| format!("an event of no known kind: {line}"))?);
            } else if let Some((_, rest)) = line.split_once("started '") {
                let Some((name, rest)) = rest.split_once("' (pid ") else { continue };
                let pid = rest.chars().take_while(char::is_ascii_digit).collect::<String>();
                if let Ok(pid) = pid.parse() {
                    names.insert(pid, name.to_string());
                }
            } else if let Some((_, rest)) = line.split_once("timer: TSC ") {
                tsc_mhz = rest.split(' ').next().and_then(|m| m.parse().ok());
            }
        }
        let lost = lost.context("the tracer did not finish (no \"trace: end\" line)")?;
        let tsc_mhz = tsc_mhz.filter(|m| *m > 0.0).context("the kernel did not say its TSC rate")?;
        Ok(Collected { events, lost, names, tsc_mhz })
    }

    /// The Trace Event Format JSON of the events.
    pub fn to_json(&self) -> Value {
        Slicer::new(self).build()
    }
}

/// A slice on a thread's track, before it is written.
struct Slice {
    pid: u32,
    tid: u32,
    name: String,
    start: u64,
    end: u64,
    args: Value,
}

/// A flow arrow: from a point on one thread to a point on another.
struct Flow {
    id: u64,
    /// Where it starts and ends: process, thread, TSC.
    from: (u32, u32, u64),
    to: (u32, u32, u64),
    name: &'static str,
}

/// Turns events into slices and flows.
struct Slicer<'a> {
    c: &'a Collected,
    slices: Vec<Slice>,
    flows: Vec<Flow>,
    instants: Vec<Value>,
    /// The thread ids seen, with their process.
    threads: BTreeMap<u32, u32>,
}

impl<'a> Slicer<'a> {
    fn new(c: &'a Collected) -> Slicer<'a> {
        Slicer { c, slices: Vec::new(), flows: Vec::new(), instants: Vec::new(), threads: BTreeMap::new() }
    }

    /// Nanoseconds since the first event: Perfetto keeps whole nanoseconds, so the trace
    /// gives them, and a slice's end is its start plus its length exactly as Perfetto reads
    /// them (rounding each apart could make a nested slice outlast its parent).
    fn ns(&self, tsc: u64) -> u64 {
        let first = self.c.events.first().map_or(0, |e| e.tsc);
        (tsc.saturating_sub(first) as f64 * 1000.0 / self.c.tsc_mhz).round() as u64
    }

    /// [`Slicer::ns`] as the format's microseconds.
    fn us(&self, tsc: u64) -> f64 {
        self.ns(tsc) as f64 / 1000.0
    }

    fn build(mut self) -> Value {
        // Calls not yet answered, by caller: (when, label, flow id).
        let mut calls: HashMap<u32, (u64, u32, u64)> = HashMap::new();
        // Calls being served, by server: (caller, when received, label).
        let mut serving: HashMap<u32, Vec<(u32, u64, u32)>> = HashMap::new();
        // The last send of each thread not yet received: (when, flow id).
        let mut sends: HashMap<u32, (u64, u64)> = HashMap::new();
        // Who runs, since when.
        let mut running: Option<(u32, u64)> = None;
        let mut next_flow = 1;
        let last = self.c.events.last().map_or(0, |e| e.tsc);
        for e in &self.c.events {
            if e.thread != 0 {
                self.threads.insert(e.thread, e.pid);
            }
            match e.kind {
                Kind::Call => {
                    calls.insert(e.thread, (e.tsc, e.label, next_flow));
                    next_flow += 1;
                }
                Kind::Send => {
                    self.point(e, "send", json!({ "badge": e.badge, "label": e.label }));
                    sends.insert(e.thread, (e.tsc, next_flow));
                    next_flow += 1;
                }
                Kind::Receive => {
                    let from = e.partner;
                    let caller = calls.get(&from).filter(|_| from != 0).copied();
                    match caller {
                        Some((at, _, flow)) if !serving.values().flatten().any(|(c, ..)| *c == from) => {
                            serving.entry(e.thread).or_default().push((from, e.tsc, e.label));
                            self.flow_to(e, flow, from, at, "call");
                        }
                        _ => {
                            let args = json!({ "badge": e.badge, "label": e.label, "from thread": from });
                            self.point(e, "receive", args);
                            if let Some((at, flow)) = sends.remove(&from).filter(|_| from != 0) {
                                self.flow_to(e, flow, from, at, "send");
                            }
                        }
                    }
                }
                Kind::Reply => {
                    let client = e.partner;
                    let served = serving.get_mut(&e.thread).and_then(|v| {
                        let i = v.iter().rposition(|(c, ..)| *c == client)?;
                        Some(v.remove(i))
                    });
                    if let Some((_, since, label)) = served {
                        self.slices.push(Slice {
                            pid: e.pid,
                            tid: e.thread,
                            name: format!("serve {label}"),
                            start: since,
                            end: e.tsc,
                            args: json!({ "label": label, "caller thread": client, "answer label": e.label }),
                        });
                    }
                    if let Some((at, label, _)) = calls.remove(&client) {
                        let client_pid = self.pid_of(client);
                        self.slices.push(Slice {
                            pid: client_pid,
                            tid: client,
                            name: format!("call {label}"),
                            start: at,
                            end: e.tsc,
                            args: json!({ "label": label, "answered by thread": e.thread }),
                        });
                        // The answer's arrow joins two points at the reply: Perfetto draws a
                        // flow from the slice that starts first, and binds a flow to the
                        // slice last opened on its track (on the server's, that may be a call
                        // it made while serving), so neither the call nor the serve slice
                        // would do.
                        self.point(e, "reply", json!({ "to thread": client }));
                        let answer = Event { pid: client_pid, thread: client, ..*e };
                        self.point(&answer, "answer", json!({ "from thread": e.thread }));
                        self.flows.push(Flow {
                            id: next_flow,
                            from: (e.pid, e.thread, e.tsc),
                            to: (client_pid, client, e.tsc),
                            name: "reply",
                        });
                        next_flow += 1;
                    }
                }
                Kind::Fault => self.instants.push(json!({
                    "name": format!("fault (vector {})", e.label), "ph": "i", "s": "t",
                    "pid": e.pid, "tid": e.thread, "ts": self.us(e.tsc),
                })),
                Kind::Switch => {
                    if let Some((tid, since)) = running.take() {
                        self.cpu_slice(tid, since, e.tsc);
                    }
                    running = Some((e.partner, e.tsc));
                }
            }
        }
        if let Some((tid, since)) = running {
            self.cpu_slice(tid, since, last);
        }
        // What was still waiting when the trace was read ends with it.
        for (client, (at, label, _)) in calls {
            let pid = self.pid_of(client);
            let args = json!({ "label": label, "unanswered": true });
            self.slices.push(Slice { pid, tid: client, name: format!("call {label}"), start: at, end: last, args });
        }
        for (server, held) in serving {
            for (client, since, label) in held {
                let pid = self.pid_of(server);
                let args = json!({ "label": label, "caller thread": client, "unanswered": true });
                self.slices.push(Slice {
                    pid,
                    tid: server,
                    name: format!("serve {label}"),
                    start: since,
                    end: last,
                    args,
                });
            }
        }
        self.write()
    }

    /// The process of thread `tid` (0 if no event of it named one).
    fn pid_of(&self, tid: u32) -> u32 {
        self.threads.get(&tid).copied().unwrap_or(0)
    }

    /// A zero-length slice for event `e`, for a flow to start or end in.
    fn point(&mut self, e: &Event, what: &str, args: Value) {
        let name = format!("{what} {}", e.label);
        self.slices.push(Slice { pid: e.pid, tid: e.thread, name, start: e.tsc, end: e.tsc, args });
    }

    /// A flow arrow from thread `from` at TSC `at` to event `e`.
    fn flow_to(&mut self, e: &Event, id: u64, from: u32, at: u64, name: &'static str) {
        let from_pid = self.pid_of(from);
        self.flows.push(Flow { id, from: (from_pid, from, at), to: (e.pid, e.thread, e.tsc), name });
    }

    /// A stretch of `tid` on the CPU track (pid 0).
    fn cpu_slice(&mut self, tid: u32, start: u64, end: u64) {
        let name = match tid {
            0 => "idle".to_string(),
            _ => {
                let pid = self.pid_of(tid);
                format!("{} (thread {tid})", self.c.names.get(&pid).map_or("?", String::as_str))
            }
        };
        self.slices.push(Slice { pid: 0, tid: 0, name, start, end, args: json!({ "thread": tid }) });
    }

    fn write(mut self) -> Value {
        let mut out = Vec::new();
        let mut pids: Vec<u32> = self.threads.values().copied().collect();
        pids.sort_unstable();
        pids.dedup();
        out.push(json!({ "name": "process_name", "ph": "M", "pid": 0, "args": { "name": "CPU" } }));
        out.push(json!({ "name": "thread_name", "ph": "M", "pid": 0, "tid": 0, "args": { "name": "running" } }));
        for pid in pids {
            let name = self.c.names.get(&pid).cloned().unwrap_or_else(|| format!("pid {pid}"));
            out.push(json!({ "name": "process_name", "ph": "M", "pid": pid, "args": { "name": name } }));
        }
        for (&tid, &pid) in &self.threads {
            let name = format!("thread {tid}");
            out.push(json!({ "name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": { "name": name } }));
        }
        nest(&mut self.slices);
        for s in &self.slices {
            let start = self.ns(s.start);
            let (ts, dur) = (start as f64 / 1000.0, self.ns(s.end).saturating_sub(start) as f64 / 1000.0);
            out.push(json!({
                "name": s.name, "cat": "ipc", "ph": "X", "pid": s.pid, "tid": s.tid, "ts": ts, "dur": dur, "args": s.args,
            }));
        }
        for f in &self.flows {
            let (fp, ft, fts) = f.from;
            let (tp, tt, tts) = f.to;
            out.push(
                json!({ "name": f.name, "cat": "ipc", "ph": "s", "id": f.id, "pid": fp, "tid": ft, "ts": self.us(fts) }),
            );
            out.push(json!({ "name": f.name, "cat": "ipc", "ph": "f", "bp": "e", "id": f.id, "pid": tp, "tid": tt, "ts": self.us(tts) }));
        }
        out.extend(self.instants);
        json!({
            "traceEvents": out,
            "displayTimeUnit": "ns",
            "otherData": { "source": "Seam IPC trace (cargo xtask trace)", "tsc_mhz": self.c.tsc_mhz, "lost_events": self.c.lost },
        })
    }
}

/// Slices on one track must nest: a slice that starts inside another must end inside it
/// too. A server that holds one call while it serves the next breaks that; the later slice
/// is then cut at the end of the one it started in, and says so.
fn nest(slices: &mut [Slice]) {
    slices.sort_by_key(|s| (s.pid, s.tid, s.start, std::cmp::Reverse(s.end)));
    let mut open: Vec<(u32, u32, u64)> = Vec::new();
    for s in slices.iter_mut() {
        while open.last().is_some_and(|&(p, t, end)| (p, t) != (s.pid, s.tid) || end < s.start) {
            open.pop();
        }
        if let Some(&(_, _, end)) = open.last() {
            if s.end > end {
                s.end = end;
                s.args["cut short: overlaps an earlier slice"] = json!(true);
            }
        }
        open.push((s.pid, s.tid, s.end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(e: Event) -> String {
        let [a, b, c, d] = e.to_words();
        format!("[    1.000000] INFO  tracer[9]: trace: {a:x} {b:x} {c:x} {d:x}\n")
    }

    fn ev(tsc: u64, kind: Kind, pid: u32, thread: u32, partner: u32, label: u32) -> Event {
        Event { tsc, kind, pid, thread, partner, badge: 5, label }
    }

    /// A client (pid 3, thread 4) calls a server (pid 2, thread 2) and gets its answer.
    fn output() -> String {
        output_with(&[])
    }

    /// [`output`], then the events `more`.
    fn output_with(more: &[Event]) -> String {
        let mut out = String::from("[    0.1] INFO  timer: TSC 1000.000 MHz, APIC timer\n");
        out += "[    0.2] INFO  init[1]: init: started 'name' (pid 2, priority 220)\n";
        out += "[    0.3] INFO  init[1]: init: started 'shell' (pid 3, priority 100)\n";
        let first = [
            ev(1000, Kind::Call, 3, 4, 2, 7),
            ev(1000, Kind::Receive, 2, 2, 4, 7),
            ev(1001, Kind::Switch, 3, 4, 2, 0),
            ev(3000, Kind::Reply, 2, 2, 4, 0),
            ev(3001, Kind::Switch, 2, 2, 4, 0),
            ev(4000, Kind::Fault, 3, 4, 0, 14),
        ];
        for e in first.iter().chain(more) {
            out += &line(*e);
        }
        out + &format!("[    2.0] INFO  tracer[9]: trace: end {} events, 2 lost\n", first.len() + more.len())
    }

    #[test]
    fn the_output_parses_into_events_names_and_rate() {
        let c = Collected::parse(&output()).unwrap();
        assert_eq!(c.events.len(), 6);
        assert_eq!((c.lost, c.tsc_mhz), (2, 1000.0));
        assert_eq!(c.names.get(&2).map(String::as_str), Some("name"));
        assert_eq!(c.names.get(&3).map(String::as_str), Some("shell"));
        assert!(Collected::parse("trace: 1 2 3 4\n").is_err(), "no end line, no rate");
    }

    #[test]
    fn a_call_becomes_two_slices_with_flows_both_ways() {
        let trace = Collected::parse(&output()).unwrap().to_json();
        let events = trace["traceEvents"].as_array().unwrap();
        let slice = |name: &str, tid: u64| {
            events.iter().find(|e| e["ph"] == "X" && e["name"] == name && e["tid"] == tid).cloned().unwrap()
        };
        let call = slice("call 7", 4);
        assert_eq!((call["pid"].as_u64(), call["ts"].as_f64()), (Some(3), Some(0.0)));
        assert!((call["dur"].as_f64().unwrap() - 2.0).abs() < 0.01, "{call}");
        let serve = slice("serve 7", 2);
        assert_eq!(serve["pid"].as_u64(), Some(2));
        let flows: Vec<_> = events.iter().filter(|e| e["ph"] == "s" || e["ph"] == "f").collect();
        assert_eq!(flows.len(), 4, "call and reply, each a start and an end");
        for f in &flows {
            let id = &f["id"];
            assert_eq!(flows.iter().filter(|g| g["id"] == *id).count(), 2);
        }
        // The CPU track: the client, then the server, then the client again.
        let cpu: Vec<_> =
            events.iter().filter(|e| e["ph"] == "X" && e["pid"] == 0).map(|e| e["name"].clone()).collect();
        assert_eq!(cpu, [json!("name (thread 2)"), json!("shell (thread 4)")]);
        assert!(events.iter().any(|e| e["ph"] == "i" && e["name"] == "fault (vector 14)"));
        assert!(events.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "shell"));
    }

    #[test]
    fn perfetto_joins_each_flow_to_the_slices_it_belongs_to() {
        let trace = Collected::parse(&output()).unwrap().to_json();
        let joined = crate::perfetto::check(&trace).unwrap();
        let ends: Vec<_> = joined.iter().map(|j| (j.name.as_str(), j.from.name.as_str(), j.to.name.as_str())).collect();
        assert_eq!(ends, [("call", "call 7", "serve 7"), ("reply", "reply 0", "answer 0")]);
        assert!(joined.iter().all(joins_as_meant));
    }

    #[test]
    fn a_reply_after_a_call_made_while_serving_still_joins_the_caller() {
        // The shell (thread 4) calls name (thread 2), which calls a third server (pid 5,
        // thread 6) while serving and only then answers. Perfetto binds a flow to the slice
        // last opened on its track: name's own call must not take the reply's arrow.
        let out = output_with(&[
            ev(5000, Kind::Call, 3, 4, 2, 8),
            ev(5000, Kind::Receive, 2, 2, 4, 8),
            ev(5100, Kind::Call, 2, 2, 6, 9),
            ev(5100, Kind::Receive, 5, 6, 2, 9),
            ev(5200, Kind::Reply, 5, 6, 2, 0),
            ev(5300, Kind::Reply, 2, 2, 4, 0),
        ]);
        let trace = Collected::parse(&out).unwrap().to_json();
        let joined = crate::perfetto::check(&trace).unwrap();
        assert_eq!(joined.len(), 6, "three calls, three replies");
        assert!(joined.iter().all(joins_as_meant), "{joined:#?}");
        let last = joined.iter().filter(|j| j.name == "reply").max_by_key(|j| j.from.start).unwrap();
        assert_eq!((last.from.track, last.to.track), ((2, 2), (3, 4)), "name's answer to the shell");
    }

    #[test]
    fn overlapping_slices_on_a_track_are_cut_to_nest() {
        let s = |start, end| Slice { pid: 1, tid: 1, name: String::new(), start, end, args: json!({}) };
        let mut slices = vec![s(10, 20), s(0, 15), s(30, 40), s(32, 35)];
        nest(&mut slices);
        let spans: Vec<_> = slices.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(spans, [(0, 15), (10, 15), (30, 40), (32, 35)]);
        assert_eq!(slices[1].args["cut short: overlaps an earlier slice"], json!(true));
    }
}
