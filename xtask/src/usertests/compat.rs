//! The compat server in QEMU: legacy apps of two Android releases, each with its uid, and a
//! system program hosting a service, all written against the `binder` crate alone.

use super::find;

/// Settings and the native weather and gallery servers, compat, and the IEcho server, which
/// every compat system has.
const SERVERS: &str = r#"
[[program]]
name = "settings"
priority = 180
memory = "1 MiB"
provides = ["settings"]
archive = "read"
store = "64 KiB"
supervise = { restarts = 10, backoff_ms = 10 }

[[program]]
name = "weather"
priority = 160
memory = "1 MiB"
provides = ["weather"]
uses = ["settings"]
supervise = { restarts = 10, backoff_ms = 10 }

[[program]]
name = "gallery"
priority = 155
memory = "4 MiB"
provides = ["gallery"]
store = "128 KiB"
supervise = { restarts = 10, backoff_ms = 10 }

[[program]]
name = "compat"
priority = 150
memory = "8 MiB"
provides = ["compat"]
uses = ["init", "settings", "weather", "gallery"]
archive = "read"
supervise = { restarts = 3 }

[[program]]
name = "compat-echo"
priority = 140
memory = "2 MiB"
uses = ["compat"]
supervise = { restarts = 3, backoff_ms = 10 }
"#;

/// The system: compat, the IEcho server, and the two apps.
pub fn system() -> String {
    format!(
        r#"{}{SERVERS}
[[program]]
name = "compat-old"
priority = 120
memory = "2 MiB"
uses = ["compat"]
uid = 10002
args = ["10002"]

[[program]]
name = "compat-check"
priority = 110
memory = "4 MiB"
uses = ["compat", "init", "settings", "gallery"]
writes = ["compat."]
uid = 10001
args = ["10001"]
"#,
        crate::system::NAME_SERVER
    )
}

/// Migration under load: the legacy demo apps calling through compat for a fixed number of
/// rounds while compat-migrate flips both routes 10 times and kills the native weather
/// server twice.
pub fn migration_system() -> String {
    format!(
        r#"{}{SERVERS}
[[program]]
name = "legacy-weather-widget"
priority = 115
memory = "2 MiB"
uses = ["compat"]
uid = 10010
args = ["Oslo", "200"]

[[program]]
name = "legacy-gallery-browser"
priority = 112
memory = "2 MiB"
uses = ["compat"]
uid = 10011
args = ["40"]

[[program]]
name = "compat-migrate"
priority = 105
memory = "1 MiB"
uses = ["settings", "compat", "init"]
writes = ["compat."]
args = ["10"]
"#,
        crate::system::NAME_SERVER
    )
}

/// The number before `what` in the line that holds both `prefix` and `what`.
fn count(out: &str, prefix: &str, what: &str) -> Result<u64, String> {
    let line = out
        .lines()
        .find(|l| l.contains(prefix) && l.contains(what))
        .ok_or_else(|| format!("output lacks a line with \"{prefix}\" and \"{what}\""))?;
    let before = &line[..line.find(what).ok_or_else(|| format!("\"{line}\" lacks \"{what}\""))?];
    before
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no number before \"{what}\" in: {line}"))
}

/// Every flip and kill happened, and the apps saw no failed call, no different answer and no
/// lost photo (calls the kills answered with DEAD_OBJECT were made again and answered).
pub fn check_migration(out: &str) -> Result<(), String> {
    if let Some(line) = out.lines().find(|l| l.contains("FAIL:")) {
        return Err(line.trim().to_string());
    }
    let migrate = "compat-migrate: ";
    for (what, want) in [("weather flips", 10), ("gallery flips", 10), ("kills", 2)] {
        let n = count(out, migrate, what)?;
        if n != want {
            return Err(format!("compat-migrate: {n} {what}, not {want}"));
        }
    }
    let widget = "legacy-weather-widget: 200 calls";
    let browser = "legacy-gallery-browser: ";
    for (prefix, what) in
        [(widget, "failed"), (widget, "different answers"), (browser, "failed"), (browser, "photos lost")]
    {
        let n = count(out, prefix, what)?;
        if n != 0 {
            return Err(format!("{prefix}... {n} {what}"));
        }
    }
    let listened = count(out, widget, "told by the listener")?;
    if listened == 0 {
        return Err("the widget's listener was never told".into());
    }
    for program in ["legacy-weather-widget", "legacy-gallery-browser", "compat-migrate"] {
        super::exited_cleanly(out, program)?;
    }
    Ok(())
}

/// Compat, the IEcho server, and a hostile client.
pub fn hostile_system() -> String {
    format!(
        r#"{}{SERVERS}
[[program]]
name = "compat-fuzz"
priority = 110
memory = "4 MiB"
uses = ["compat"]
uid = 10003
"#,
        crate::system::NAME_SERVER
    )
}

/// The hostile client's checks passed, and compat was never restarted.
pub fn check_hostile(out: &str) -> Result<(), String> {
    super::check_scenario(out, "compat-fuzz", "hostile")?;
    match out.lines().find(|l| l.contains("init: 'compat' ")) {
        Some(line) => Err(format!("compat ended: {}", line.trim())),
        None => Ok(()),
    }
}

/// Both apps passed every check and ended cleanly.
pub fn check(out: &str) -> Result<(), String> {
    for (program, scenario) in [("compat-old", "android10"), ("compat-check", "android14")] {
        super::check_scenario(out, program, scenario)?;
    }
    find(out, "compat-echo: serving 'echo'", 0).map(drop)
}
