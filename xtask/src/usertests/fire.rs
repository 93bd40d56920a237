//! Servers under fire: the system's servers (name, console, settings, weather, gallery and
//! compat) each killed 100 times at pseudo-random moments while a client of each works
//! (`crashload fire`, `userspace/apps/crashload/src/fire.rs`); settings and the gallery under
//! load while killed 20 times (`crashload settings|gallery`); and the native servers sent
//! hostile messages (`hostile`).

use super::{check_scenario, exited_cleanly, find, DEFAULT_SYSTEM};

/// A test system: the settings server, with a small store (so that it compacts), and
/// `crashload` killing it 20 times while two writers make 400 writes each. The server runs
/// below its clients, so that calls wait in its queue and kills land in the middle of them.
pub fn crash_load_system(service: &str) -> String {
    let name = crate::system::NAME_SERVER;
    // The server runs below its clients, so they queue calls at it while it is killed; its
    // store is small, so it compacts under load.
    let (extra, writes) = match service {
        "settings" => ("archive = \"read\"\nstore = \"16 KiB\"", "writes = [\"load.\"]\n"),
        _ => ("store = \"64 KiB\"", ""),
    };
    format!(
        r#"{name}
[[program]]
name = "{service}"
priority = 90
memory = "2 MiB"
provides = ["{service}"]
{extra}
supervise = {{ restarts = 100, backoff_ms = 10 }}

[[program]]
name = "crashload"
priority = 100
memory = "8 MiB"
uses = ["{service}", "init"]
{writes}archive = "spawn"
args = ["{service}", "20", "400"]
"#
    )
}

/// Both writers of each round found every acknowledged change; the server was killed 20
/// times; memory came back to the baseline (crashload exits with the number of failures).
pub fn check_crash_load(out: &str, service: &str) -> Result<(), String> {
    for id in 0..4 {
        let head = format!("writer {id}: ");
        let line = out.lines().find(|l| l.contains(&head)).ok_or_else(|| format!("output lacks \"{head}\""))?;
        if !line.trim_end().ends_with(" 0 unexpected, 0 lost") {
            return Err(format!("a writer saw a loss or a wrong answer: {}", line.trim()));
        }
    }
    find(out, &format!("crashload: {service} killed 20 times"), 0)?;
    exited_cleanly(out, "crashload")
        .map_err(|_| format!("crashload failed: {}", out.lines().rfind(|l| l.contains("crashload:")).unwrap_or("")))
}

/// The entries of `names` in the default system, as it has them.
fn default_servers(names: &[&str]) -> String {
    DEFAULT_SYSTEM
        .split("[[program]]")
        .filter(|p| names.iter().any(|n| p.contains(&format!("name = \"{n}\"\n"))))
        .map(|p| format!("[[program]]{p}"))
        .collect()
}

/// A test system: the native servers, supervised, and `hostile` sending each of them
/// 5,000 messages of its own making.
pub fn hostile_system() -> String {
    let servers = default_servers(&["name", "console", "settings", "weather", "gallery"]);
    format!(
        r#"{servers}
[[program]]
name = "hostile"
priority = 100
memory = "2 MiB"
uses = ["init", "console", "settings", "weather", "gallery"]
writes = ["hostile."]
args = ["5000"]
"#
    )
}

/// Every server answered every message and lived; init restarted none of them.
pub fn check_hostile(out: &str) -> Result<(), String> {
    check_scenario(out, "hostile", "native")?;
    match out.lines().find(|l| l.contains("init: '") && (l.contains("' ended") || l.contains("' faulted"))) {
        Some(line) => Err(format!("a server ended: {}", line.trim())),
        None => Ok(()),
    }
}

/// How many times each server is killed in the measured round.
pub const KILLS: u32 = 100;

/// The servers, as the default system has them but for their restart limits, and
/// `crashload` above them all, so that its kills land wherever a server happens to be: in
/// the middle of a request, or waiting for another server.
pub fn system() -> String {
    let servers = default_servers(&["name", "console", "settings", "weather", "gallery", "compat"]);
    // Each may be restarted 250 times, 10 ms after its end.
    let servers: String = servers
        .lines()
        .map(|l| match l.starts_with("supervise = ") {
            true => "supervise = { restarts = 250, backoff_ms = 10 }\n".to_string(),
            false => format!("{l}\n"),
        })
        .collect();
    format!(
        r#"{servers}
[[program]]
name = "crashload"
priority = 250
memory = "24 MiB"
uses = ["init", "console", "settings", "weather", "gallery", "compat"]
writes = ["load."]
archive = "spawn"
uid = 10020
introspect = true
args = ["fire", "{KILLS}", "100000"]
"#
    )
}

/// The numbers on the line of client `id`: what it was answered, its clean errors, what it
/// was answered wrongly and (for the writers) what it lost.
fn client(out: &str, id: usize) -> Result<String, String> {
    let head = format!("writer {id}");
    let line = out
        .lines()
        .find(|l| l.contains(&format!("{head}: ")) || l.contains(&format!("{head} (")))
        .ok_or_else(|| format!("output lacks client {id}'s counts"))?;
    let counts = line.trim_end();
    if !(counts.ends_with(" 0 unexpected") || counts.ends_with(" 0 unexpected, 0 lost")) {
        return Err(format!("a client saw a loss or a wrong answer: {}", counts.trim()));
    }
    Ok(counts[counts.find(&head).unwrap_or(0)..].to_string())
}

/// The output without the kernel's lines that cut into another line: the console server and
/// the kernel share the serial line, and a kernel line may come in the middle of one the
/// console is writing, which then goes on after it.
fn uncut(out: &str) -> String {
    let mut rest = out;
    let mut whole = String::with_capacity(out.len());
    while let Some(at) = rest.find("] INFO  ").and_then(|i| rest[..i].rfind('[')) {
        let cut_in = at > 0 && !rest[..at].ends_with('\n');
        let end = rest[at..].find('\n').map_or(rest.len(), |n| at + n + 1);
        whole.push_str(&rest[..at]);
        if !cut_in {
            whole.push_str(&rest[at..end]);
        }
        rest = &rest[end..];
    }
    whole.push_str(rest);
    whole
}

/// Every line console client `id` printed reached the serial line.
fn console_lines(out: &str, id: usize) -> Result<u64, String> {
    let head = format!("console client {id}: ");
    let printed = super::number(out, &head, &head)?;
    for i in 0..printed {
        find(out, &format!("console client {id} line {i}\n"), 0)
            .map_err(|_| format!("console client {id}'s line {i} of {printed} never reached the serial line"))?;
    }
    Ok(printed)
}

/// Every client of both rounds saw only answers and clean errors, lost nothing acknowledged
/// and printed every line; each server was killed `KILLS` times and restarted each time;
/// crashload (the driver, not one of its clients) exited with 0.
pub fn check(out: &str) -> Result<(), String> {
    let mut report = Vec::new();
    for id in 0..12 {
        report.push(client(out, id)?);
    }
    let whole = uncut(out);
    for id in [1, 7] {
        console_lines(&whole, id)?;
    }
    for server in ["name", "console", "settings", "weather", "gallery", "compat"] {
        find(out, &format!("crashload: {server} killed {KILLS} times"), 0)?;
    }
    let pid = super::number(out, "init: started 'crashload'", "(pid ")?;
    find(out, &format!("process 'crashload' (pid {pid}) exited with code 0"), 0).map_err(|_| {
        let last = out.lines().rfind(|l| l.contains("crashload:")).unwrap_or("");
        format!("crashload failed: {last}")
    })?;
    // The counts, for the log of a run that passed.
    eprintln!("      under fire: {}", report[6..].join("; "));
    Ok(())
}
