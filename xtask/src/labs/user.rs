//! The labs in user space: a program pair with badges, the console's driver, the compat
//! server's Parcel.

use super::*;

// ---- 3. pingpong ---------------------------------------------------------------------

/// The rounds and the first badge of a grading run: from its nonce, so that no run's lines
/// can be printed by rote.
fn pingpong_numbers(nonce: u64) -> (u64, u64) {
    (100 + nonce % 900, 1_000 + (nonce / 900) % 9_000)
}

fn pingpong_boot(judge: fn(&Captured, u64) -> Result<String, String>) -> Test {
    boot(
        |nonce| {
            let (rounds, badge) = pingpong_numbers(nonce);
            format!("run=pingpong:{rounds}:{badge} exit_when_done")
        },
        judge,
    )
}

pub(super) fn pingpong() -> Lab {
    Lab {
        name: "pingpong",
        title: "a server, two clients, and badges",
        kind: Kind::Extension,
        protected: &["xtask"],
        checks: vec![
            check("qemu: the clients' round trips", 4, OnStart::Fails, pingpong_boot(pingpong_clients)),
            check("qemu: the server told the badges apart", 4, OnStart::Fails, pingpong_boot(pingpong_server)),
            check("qemu: three processes", 2, OnStart::Fails, pingpong_boot(pingpong_processes)),
        ],
    }
}

/// The first process's closing line, with this run's numbers, and its clean exit.
fn pingpong_clients(run: &Captured, nonce: u64) -> Result<String, String> {
    let (rounds, badge) = pingpong_numbers(nonce);
    let line = format!("pingpong: {rounds} round trips, badges {badge} and {}", badge + 1);
    let pid = *user_says(&run.output, "pingpong", &line).first().ok_or(format!("no process printed \"{line}\""))?;
    if !exited_cleanly(&run.output, "pingpong").contains(&pid) {
        return Err(format!("pid {pid} printed \"{line}\" but did not exit with code 0"));
    }
    Ok(format!("pid {pid}: {rounds} round trips, badges {badge} and {}", badge + 1))
}

/// The server's line, with this run's numbers, from a process other than the first (the one
/// that printed the clients' line), which exited cleanly.
fn pingpong_server(run: &Captured, nonce: u64) -> Result<String, String> {
    let (rounds, badge) = pingpong_numbers(nonce);
    let line = format!("pingpong server: {rounds} calls with badge {badge}, {rounds} calls with badge {}", badge + 1);
    let first = user_says(&run.output, "pingpong", "pingpong: ");
    let servers = user_says(&run.output, "pingpong", &line);
    let pid = *servers.first().ok_or(format!("no process printed \"{line}\""))?;
    if first.contains(&pid) {
        return Err(format!("pid {pid} printed both the clients' line and the server's: one process did both"));
    }
    if !exited_cleanly(&run.output, "pingpong").contains(&pid) {
        return Err(format!("the server (pid {pid}) did not exit with code 0"));
    }
    Ok(format!("pid {pid}: {rounds} calls from each badge"))
}

/// Three processes of `pingpong` exited with code 0, by the kernel's word.
fn pingpong_processes(run: &Captured, _: u64) -> Result<String, String> {
    let mut pids = exited_cleanly(&run.output, "pingpong");
    pids.sort_unstable();
    pids.dedup();
    if pids.len() != 3 {
        return Err(format!(
            "the kernel says {} pingpong processes exited with code 0 ({pids:?}); 3 expected",
            pids.len()
        ));
    }
    exit_status(run, 33)?;
    Ok(format!("pids {pids:?}"))
}

// ---- 8. console ----------------------------------------------------------------------

pub(super) fn console() -> Lab {
    Lab {
        name: "console",
        title: "the console's receive side: a UART driver on an interrupt",
        kind: Kind::Removal,
        protected: &["xtask", "userspace/apps/ipctest", "userspace/servers/shell", "userspace/init"],
        checks: vec![
            check("qemu: console_input", 4, OnStart::Fails, Test::Case("console_input")),
            check(
                "qemu: the shell, typed at",
                4,
                OnStart::Fails,
                Test::Boot(BootCheck {
                    cmdline: |_| String::new(),
                    system: Some(|_| shell_system()),
                    files: None,
                    conversation: Some(shell_conversation),
                    judge: console_restarted,
                }),
            ),
            check("qemu: console_output", 2, OnStart::Passes, Test::Case("console_output")),
        ],
    }
}

/// The smallest system with a shell: the name server, the console and the shell.
fn shell_system() -> String {
    let shell = r#"
[[program]]
name = "shell"
priority = 100
memory = "2 MiB"
uses = ["console", "input", "init"]
introspect = true
"#;
    format!("{}{}{shell}", crate::system::NAME_SERVER, crate::system::CONSOLE)
}

/// The grading run's numbers typed at the shell, one of them edited on the way, before and
/// after the console is killed (init starts it again, and it must take the line once more).
fn shell_conversation(nonce: u64) -> Vec<Step> {
    let (first, second) = (nonce, nonce / 7 + 1_000_000);
    vec![
        Step::expect("seam> "),
        Step::line(&format!("echo {first}")),
        Step::expect(&format!("\n{first}\n")),
        Step::expect("seam> "),
        // Two digits typed wrong and rubbed out with Backspace (DEL, as terminals send it).
        Step::Send(format!("echo {}99\x7f\x7f{}\r", first / 1000, first % 1000 + 1000).into_bytes()),
        Step::expect(&format!("\n{}{}\n", first / 1000, first % 1000 + 1000)),
        Step::expect("seam> "),
        Step::line("kill console"),
        Step::expect("console: killed"),
        Step::expect("seam> "),
        Step::line(&format!("echo {second}")),
        Step::expect(&format!("\n{second}\n")),
        Step::expect("seam> "),
    ]
}

/// After the conversation: init started the console a second time, as another process, and
/// nothing faulted.
fn console_restarted(run: &Captured, _: u64) -> Result<String, String> {
    if let Some(line) = run.output.lines().find(|l| is_kernel_report(l)) {
        return Err(format!("the kernel failed: {line}"));
    }
    // Init's own lines, as the kernel tags them: `init[1]: init: started 'console' (pid 3, ...`.
    let pids: Vec<u64> = run
        .output
        .lines()
        .filter_map(kernel_message)
        .filter_map(|m| {
            m.strip_prefix("init[")?.split_once("]: init: started 'console' (pid ")?.1.split_once(',')?.0.parse().ok()
        })
        .collect();
    match pids[..] {
        [first, second, ..] if first != second => {
            Ok(format!("typed lines answered by the console as pid {first}, and after its restart as pid {second}"))
        }
        _ => Err(format!("init started the console as {pids:?}; the kill should have made it start a second one")),
    }
}

// ---- 9. string16 ---------------------------------------------------------------------

pub(super) fn string16() -> Lab {
    Lab {
        name: "string16",
        title: "Android's strings and interface tokens, byte for byte",
        kind: Kind::Removal,
        protected: &["xtask", "userspace/binder/src/parcel/tests.rs", "userspace/apps/compat-check"],
        checks: vec![
            check("host: golden bytes", 3, OnStart::Fails, host("binder", &["parcel::tests::interface_token"])),
            check("host: enforce_interface", 2, OnStart::Fails, host("binder", &["parcel::tests::enforce_interface"])),
            check("host: any text", 2, OnStart::Fails, host("binder", &["parcel::tests::any_text"])),
            check("host: hostile Parcels", 2, OnStart::Fails, host("binder", &["parcel::tests::broken_parcels"])),
            check("host: every Parcel test", 1, OnStart::Fails, host("binder", &["parcel::tests::"])),
            check("qemu: compat", 2, OnStart::Fails, Test::Case("compat")),
            check(
                "host: binder objects",
                1,
                OnStart::Passes,
                host("binder", &["parcel::tests::binder_objects", "parcel::tests::plain_reads"]),
            ),
        ],
    }
}
