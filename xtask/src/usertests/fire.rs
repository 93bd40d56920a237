//! Servers under fire: the system's servers (name, console, settings, weather, gallery and
//! compat) each killed 100 times at pseudo-random moments while a client of each works
//! (`crashload fire`, `userspace/apps/crashload/src/fire.rs`).

use super::find;

/// How many times each server is killed in the measured round.
pub const KILLS: u32 = 100;

/// The servers, as the default system has them but for their restart limits, and
/// `crashload` above them all, so that its kills land wherever a server happens to be: in
/// the middle of a request, or waiting for another server.
pub fn system() -> String {
    let servers = super::default_servers(&["name", "console", "settings", "weather", "gallery", "compat"]);
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
