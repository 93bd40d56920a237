//! The labs in user space: a program pair with badges, the compat server's Parcel.

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

// ---- 8. string16 ---------------------------------------------------------------------

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
