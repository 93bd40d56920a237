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
