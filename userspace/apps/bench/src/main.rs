//! `bench [ITERS]`: Seam's latency figures, in TSC cycles, measured with `rdtsc` around each
//! operation after a warm-up, the same way the Linux peer measures ([`bench_stats`]):
//! - `null_syscall`: the round trip of the `Null` call;
//! - `yield_switch`: one switch between two processes that yield to each other (half of a
//!   measured yield round trip, which takes two switches);
//! - `ipc_call_reply_<size>`: a `Call` to a server in another process and its `ReplyRecv`
//!   answer carrying the same `size` bytes back, the whole round trip as the client sees it.
//!   0 bytes; 32 = the four register words; 64, 256 and 1024 also through the IPC buffers
//!   (the kernel copies buffer to buffer); 4096, more than a message holds, through a shared
//!   Frame: the client copies its bytes in, the server copies them out to memory of its own,
//!   copies its answer in, and the client copies it out — as a pipe's write and read would;
//! - `ipc_call_reply_cap`: the call transfers one capability (the server deletes it before
//!   answering, which is in the figure);
//! - `ipc_scale_<n>`: `ipc_call_reply_0` again with `n` more processes alive, each blocked
//!   receiving on an endpoint: does the IPC path's cost depend on the system's size?
//!   `ipc_scale_threads_<n>`: the same with `n` more threads of this process instead;
//! - `notify_signal_wait`: a round trip of signals: this process signals the server's
//!   notification and waits on its own, which the server signals once it has woken;
//!
//! `bench ITERS GROUPS` measures only the groups named (a comma-separated list of `null`,
//! `yield`, `ipc` for the `ipc_call_reply_*` figures, `scale`, `notify`): the course's
//! graders (`cargo xtask grade`) ask for the figures they judge and no more.
//!
//! In systems of their own (`bench MODE ITERS`, started by `cargo xtask bench`): a name
//! lookup, a settings get, the weather, a gallery page, and the compat server's figures
//! ([`bench_stats::COMPAT_TRANSACTION`] and its neighbours).
//!
//! The cost of the `rdtsc` pair itself (its minimum) is measured and subtracted. Each result
//! is printed as one `bench:` line that `cargo xtask bench` turns into its table and JSON.
//! `bench partner N`, `bench ipc-server`, `bench ntfn-server` and `bench idle` are the
//! partner processes, started by the measuring one.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use bench_stats::{measure, Line, Summary, BREAKDOWN, PAYLOAD_SIZES};
use rt::cap::{self, Grant};
use rt::ipc::cap::{Kind, Rights, Slot, SELF};
use rt::ipc::layout::PAGE_SIZE;
use rt::ipc::msg::{MsgInfo, MSG_MAX_WORDS, MSG_REGS};
use rt::ipc::syscall::{MapFlags, PRIORITY_DEFAULT, REPLY_IN_THREAD};
use rt::ipc::Error;
use rt::println;
use rt::sys::{self, Msg};

rt::main!(main);

const DEFAULT_ITERS: usize = 100_000;

/// Labels of the benchmark server's protocol (private to this program).
const ECHO: u32 = 0;
const SHARED: u32 = 1;
const QUIT: u32 = 2;
/// Slots where a partner finds what it was given.
const GIVEN: Slot = 2;
/// Where the client and the server map the shared Frame.
const SHARED_AT: u64 = 0x5000_0000_0000;
/// The largest payload a message carries (registers and IPC buffer).
const MESSAGE_BYTES: usize = MSG_MAX_WORDS * 8;
/// How many other blocked processes each `ipc_scale_<n>` runs with.
const SCALE: [usize; 4] = [2, 20, 200, 1000];

// The curve's first size beyond 0 is "all register words": keep the shared list honest.
const _: () = assert!(PAYLOAD_SIZES[0] == MSG_REGS * 8);

fn main(args: rt::Args) -> u64 {
    match args.get(0) {
        Some("partner") => {
            let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            for _ in 0..n {
                sys::yield_now();
            }
            return 0;
        }
        Some("ipc-server") => return ipc_server(),
        Some("ntfn-server") => return ntfn_server(),
        // Blocks until the endpoint is destroyed, which is how the measuring process ends it.
        Some("idle") => return u64::from(sys::recv(GIVEN, GIVEN + 1).err() != Some(Error::ObjectGone)),
        Some("lookup") => return lookup(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS)),
        Some("settings") => return settings_get(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS)),
        Some("weather") => return weather_current(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS)),
        Some("gallery") => return gallery_list(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS)),
        Some("compat") => return compat(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS)),
        Some("breakdown") => return breakdown(),
        _ => {}
    }
    let iters = args.get(0).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS);
    let groups = args.get(1);
    let wants = |group: &str| groups.is_none_or(|g| g.split(',').any(|w| w == group));
    let overhead = bench_stats::overhead(iters);
    println!("bench: rdtsc overhead {overhead} cycles (subtracted)");
    let report = |name: &str, samples: Vec<u64>, divide: u64| {
        if let Some(summary) = Summary::of(samples, overhead, divide) {
            println!("{}", Line(name, summary));
        }
    };

    if wants("null") {
        report(
            "null_syscall",
            measure(iters, || {
                let _ = sys::null();
            }),
            1,
        );
    }

    // The partner yields as often as we do, and a little more, so each of our yields finds it
    // ready; it is at our priority, so a yield switches to it and its yield switches back.
    if wants("yield") {
        let partner_args = format!("partner {}", bench_stats::WARM_UP + iters + 16);
        let Ok(partner) = rt::cap::spawn("bench", &partner_args, PRIORITY_DEFAULT, &[]) else {
            println!("bench: cannot start the partner process");
            return 1;
        };
        report("yield_switch", measure(iters, sys::yield_now), 2);
        let _ = sys::wait(partner);
    }

    match ipc_benches(iters, &wants, &report) {
        Ok(()) => 0,
        Err(e) => {
            println!("bench: IPC benchmarks failed: {e}");
            1
        }
    }
}

/// Run as a program of a system with a name server and an `echo` service it uses: a name
/// lookup, from the call to the capability in hand, plus deleting that capability again (so
/// that every iteration starts alike).
fn lookup(iters: usize) -> u64 {
    let overhead = bench_stats::overhead(iters);
    let name = rt::name::NameServer::GIVEN;
    if name.lookup("echo").map(|(slot, _)| cap::release(slot)).is_err() {
        println!("bench: cannot look up 'echo'");
        return 1;
    }
    let samples = measure(iters, || {
        if let Ok((slot, _)) = name.lookup("echo") {
            cap::release(slot);
        }
    });
    if let Some(summary) = Summary::of(samples, overhead, 1) {
        println!("{}", Line(bench_stats::NAME_LOOKUP, summary));
    }
    0
}

/// Run as a program of a system with the settings server, allowed to write `bench.`: a get
/// of an int under a short key, from the call to the value in hand.
fn settings_get(iters: usize) -> u64 {
    use rt::ipc::proto::settings::Value;
    let overhead = bench_stats::overhead(iters);
    let Ok((settings, _)) = rt::name::lookup("settings") else {
        println!("bench: cannot look up 'settings'");
        return 1;
    };
    if rt::settings::set(settings, "bench.value", Value::Int(42)).is_err() {
        println!("bench: cannot set bench.value");
        return 1;
    }
    let samples = measure(iters, || {
        let _ = rt::settings::get(settings, "bench.value");
    });
    if let Some(summary) = Summary::of(samples, overhead, 1) {
        println!("{}", Line(bench_stats::SETTINGS_GET, summary));
    }
    0
}

/// Run as a program of a system with the weather server: the current conditions in Oslo,
/// from the call to the decoded answer in hand (the server answers from its cache).
fn weather_current(iters: usize) -> u64 {
    let overhead = bench_stats::overhead(iters);
    let Ok((weather, _)) = rt::name::lookup("weather") else {
        println!("bench: cannot look up 'weather'");
        return 1;
    };
    if rt::weather::current(weather, "Oslo").is_err() {
        println!("bench: cannot ask the weather in Oslo");
        return 1;
    }
    let samples = measure(iters, || {
        let _ = rt::weather::current(weather, "Oslo");
    });
    if let Some(summary) = Summary::of(samples, overhead, 1) {
        println!("{}", Line(bench_stats::WEATHER_CURRENT, summary));
    }
    0
}

/// Run as a program of a system with the gallery server: a page of 16 photos of a 32-photo
/// album, from the call to the decoded page in hand.
fn gallery_list(iters: usize) -> u64 {
    use rt::gallery;
    let overhead = bench_stats::overhead(iters);
    let Ok((g, _)) = rt::name::lookup("gallery") else {
        println!("bench: cannot look up 'gallery'");
        return 1;
    };
    let Ok(mut frame) = gallery::ThumbFrame::new() else {
        println!("bench: no Frame for thumbnails");
        return 1;
    };
    let len = frame.write(&[7; 64]);
    let _ = gallery::create(g, "Bench");
    for i in 0..32u64 {
        let name = format!("IMG_{i:04}.jpg");
        if let Err(e) = gallery::add(g, "Bench", &name, 1_790_000_000 + i, 3_000_000, frame.slot, len) {
            println!("bench: cannot add a photo: {e}");
            return 1;
        }
    }
    let samples = measure(iters, || {
        let _ = gallery::list(g, "Bench", 8, 16);
    });
    if let Some(summary) = Summary::of(samples, overhead, 1) {
        println!("{}", Line(bench_stats::GALLERY_LIST_16, summary));
    }
    0
}

/// Where the stacks of `ipc_scale_threads_<n>`'s threads go: [`IDLE_STACK_PAGES`] each, at
/// the top of a slot twice that size (the gap below each is its guard). They stay mapped
/// until the benchmark ends: nothing says when an ended thread has left its stack for good.
const IDLE_STACKS: u64 = 0x6000_0000_0000;
const IDLE_STACK_PAGES: u64 = 2;

/// Starts the `i`th idle thread of `ipc_scale_threads_<n>`: it receives on `ep` (with
/// `reply` for a reply capability no call ever brings) until the endpoint goes, then ends.
/// `thread` is a free slot for its capability, which is deleted at once: deleting a Thread
/// capability leaves its thread running, and a thousand would not fit in our slots.
fn idle_thread(i: usize, ep: Slot, reply: Slot, thread: Slot) -> Result<(), Error> {
    let top = IDLE_STACKS + (i as u64 + 1) * 2 * IDLE_STACK_PAGES * PAGE_SIZE;
    sys::map(top - IDLE_STACK_PAGES * PAGE_SIZE, IDLE_STACK_PAGES * PAGE_SIZE, MapFlags::WRITE)?;
    let arg = ep | reply << 32;
    // SAFETY: `idle` takes exactly its slots in `rdi` and runs on the pages just mapped,
    // which nothing else uses and which stay mapped while this process lives.
    unsafe { sys::thread_create(SELF, idle as *const () as u64, top - 8, arg, thread) }?;
    sys::cap_delete(thread)
}

/// What an idle thread runs: see [`idle_thread`].
extern "C" fn idle(slots: u64) -> ! {
    let _ = sys::recv(slots & 0xffff_ffff, slots >> 32);
    sys::thread_exit()
}

/// Bytes of the shared Frame: room for the largest payload.
const SHARED_BYTES: usize = PAYLOAD_SIZES[PAYLOAD_SIZES.len() - 1];

/// Runs `f` on the shared Frame, mapped at [`SHARED_AT`].
fn with_shared<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    // Both users map the Frame (`SHARED_BYTES` rounded up to pages) writable at SHARED_AT
    // before calling this, and only one process touches it at a time: the client before its
    // call and after the answer, the server in between.
    // SAFETY: mapped and ours for now, as above; the slice lives only for `f`, which makes no call.
    let shared = unsafe { core::slice::from_raw_parts_mut(SHARED_AT as *mut u8, SHARED_BYTES) };
    f(shared)
}

/// The IPC figures of the groups `wants` names (`ipc`, `scale`, `notify`).
fn ipc_benches(iters: usize, wants: &dyn Fn(&str) -> bool, report: &dyn Fn(&str, Vec<u64>, u64)) -> Result<(), Error> {
    let ep = cap::create(Kind::Endpoint, 0)?;
    let frame = cap::create(Kind::Frame, (SHARED_BYTES as u64).div_ceil(PAGE_SIZE))?;
    sys::frame_map(frame, SHARED_AT, MapFlags::WRITE, SELF)?;
    let grants = [Grant::new(ep, GIVEN, Rights::READ), Grant::new(frame, GIVEN + 1, Rights::READ.union(Rights::WRITE))];
    let server = cap::spawn("bench", "ipc-server", PRIORITY_DEFAULT, &grants)?;
    let call = |m: &Msg| {
        let _ = sys::call_ep(ep, m);
    };

    for size in core::iter::once(0).chain(PAYLOAD_SIZES).filter(|_| wants("ipc")) {
        let name = format!("ipc_call_reply_{size}");
        if size <= MESSAGE_BYTES {
            let words = size / 8;
            let m = Msg::new(ECHO, &[1, 2, 3, 4][..words.min(MSG_REGS)]);
            let m = Msg { info: MsgInfo::new(ECHO, words, 0).encode(), ..m };
            for i in MSG_REGS..words {
                cap::set_word(i, i as u64);
            }
            report(&name, measure(iters, || call(&m)), 1);
        } else {
            let mut payload = vec![0x5a_u8; size];
            let m = Msg::new(SHARED, &[size as u64]);
            let samples = measure(iters, || {
                with_shared(|s| s[..size].copy_from_slice(&payload));
                call(&m);
                with_shared(|s| payload.copy_from_slice(&s[..size]));
            });
            report(&name, samples, 1);
        }
    }

    let empty = Msg::new(ECHO, &[]);
    let token = cap::create(Kind::Notification, 0)?;
    cap::set_send_cap(0, token);
    let with_cap = Msg { info: MsgInfo::new(ECHO, 0, 1).encode(), ..empty };
    if wants("ipc") {
        report("ipc_call_reply_cap", measure(iters, || call(&with_cap)), 1);
    }

    // Each idle process blocks receiving on `idle_ep`; we keep no Process capability (there
    // are more of them than slots), so they end when the endpoint goes: revoking our copy's
    // descendants and deleting it wakes them all with ObjectGone.
    let scale = |what: &str, start: &mut dyn FnMut(Slot, usize) -> Result<(), Error>| -> Result<(), Error> {
        let idle_ep = cap::create(Kind::Endpoint, 0)?;
        let mut alive = 0;
        'scale: for n in SCALE {
            while alive < n {
                if let Err(e) = start(idle_ep, alive) {
                    println!("bench: ipc_scale_{what}{n} not measured: number {alive} could not start ({e})");
                    break 'scale;
                }
                alive += 1;
            }
            // At our priority, behind us: one yield lets every new one run into its receive.
            sys::yield_now();
            report(&format!("ipc_scale_{what}{n}"), measure(iters, || call(&empty)), 1);
        }
        sys::cap_revoke(idle_ep)?;
        cap::release(idle_ep);
        Ok(())
    };
    if wants("scale") {
        scale("", &mut |idle_ep, _| {
            let process = cap::spawn("bench", "idle", PRIORITY_DEFAULT, &[Grant::new(idle_ep, GIVEN, Rights::READ)])?;
            cap::release(process);
            Ok(())
        })?;
        // The same with threads of this process instead; they end the same way.
        let (reply, thread) = (cap::alloc()?, cap::alloc()?);
        scale("threads_", &mut |idle_ep, i| idle_thread(i, idle_ep, reply, thread))?;
    }
    let _ = sys::call_ep(ep, &Msg::new(QUIT, &[]));
    let _ = sys::wait(server);
    if !wants("notify") {
        return Ok(());
    }

    let (to_server, to_me) = (cap::create(Kind::Notification, 0)?, cap::create(Kind::Notification, 0)?);
    let grants = [Grant::new(to_server, GIVEN, Rights::READ), Grant::new(to_me, GIVEN + 1, Rights::WRITE)];
    let server = cap::spawn("bench", "ntfn-server", PRIORITY_DEFAULT, &grants)?;
    let ping = measure(iters, || {
        let _ = sys::signal(to_server);
        let _ = sys::ntfn_wait(to_me);
    });
    report("notify_signal_wait", ping, 1);
    let _ = sys::process_kill(server);

    Ok(())
}

/// Run as a program of a system with compat, the weather server, settings and compat-echo:
/// a legacy client's calls through compat (`bench_stats::COMPAT_*`), from the call to the
/// decoded answer in hand.
fn compat(iters: usize) -> u64 {
    use binder::Android;
    use legacy_aidl::i_weather_service::Proxy;
    let overhead = bench_stats::overhead(iters);
    let report = |name: &str, samples: Vec<u64>| {
        if let Some(summary) = Summary::of(samples, overhead, 1) {
            println!("{}", Line(name, summary));
        }
    };
    let Ok(process) = binder::seam::connect(Android::V14) else {
        println!("bench: cannot connect to compat");
        return 1;
    };
    let sm = process.service_manager();
    let (Ok(Some(weather)), Ok((settings, _)), Ok((compat, _))) =
        (sm.get_service("weather"), rt::name::lookup("settings"), rt::name::lookup("compat"))
    else {
        println!("bench: compat, its weather interface or settings is missing");
        return 1;
    };
    // compat-echo registers after it starts: wait for it.
    let mut echo = None;
    for _ in 0..1000 {
        echo = sm.check_service(compat_echo::NAME).ok().flatten();
        if echo.is_some() {
            break;
        }
        sys::sleep(1);
    }
    let Some(echo) = echo else {
        println!("bench: no echo service");
        return 1;
    };
    let weather = Proxy(weather);
    let route = |native: bool| rt::compat::switch(settings, compat, "weather", native);
    if !route(false) || weather.get_current("Oslo").is_err() {
        println!("bench: the weather interface does not answer on the legacy route");
        return 1;
    }
    report(
        bench_stats::COMPAT_TRANSACTION,
        measure(iters, || {
            let _ = weather.get_current("Oslo");
        }),
    );
    report(
        bench_stats::COMPAT_PING,
        measure(iters, || {
            let _ = weather.0.ping();
        }),
    );
    if !route(true) || weather.get_current("Oslo").is_err() {
        println!("bench: the weather interface does not answer on the native route");
        return 1;
    }
    report(
        bench_stats::COMPAT_FORWARDED,
        measure(iters, || {
            let _ = weather.get_current("Oslo");
        }),
    );
    // Oneway calls to a service another program hosts: the sender's cost, until compat has
    // queued the call. compat-echo, at a higher priority, takes each as it is queued.
    let mut n = 0;
    report(
        bench_stats::COMPAT_ONEWAY,
        measure(iters, || {
            let _ = compat_echo::call(&echo, compat_echo::RECORD, binder::codes::FLAG_ONEWAY, |p| p.write_i32(n));
            n += 1;
        }),
    );
    0
}

/// `bench breakdown`: each operation of [`bench_stats::BREAKDOWN`] once, warmed up, with a call of
/// [`breakdown_mark`] before and after. `cargo xtask bench --breakdown` boots this under
/// gdb, steps through what lies between the marks one instruction at a time, and says which
/// function each instruction belongs to. Nothing is timed here.
fn breakdown() -> u64 {
    let run = || -> Result<(), Error> {
        let ep = cap::create(Kind::Endpoint, 0)?;
        let frame = cap::create(Kind::Frame, (SHARED_BYTES as u64).div_ceil(PAGE_SIZE))?;
        let grants =
            [Grant::new(ep, GIVEN, Rights::READ), Grant::new(frame, GIVEN + 1, Rights::READ.union(Rights::WRITE))];
        let server = cap::spawn("bench", "ipc-server", PRIORITY_DEFAULT, &grants)?;
        for (i, (_, size)) in BREAKDOWN.iter().enumerate() {
            let op = || {
                if *size == usize::MAX {
                    let _ = sys::null();
                    return;
                }
                let words = size / 8;
                for w in MSG_REGS..words {
                    cap::set_word(w, w as u64);
                }
                let m = Msg::new(ECHO, &[1, 2, 3, 4][..words.min(MSG_REGS)]);
                let _ = sys::call_ep(ep, &Msg { info: MsgInfo::new(ECHO, words, 0).encode(), ..m });
            };
            for _ in 0..bench_stats::WARM_UP.min(100) {
                op();
            }
            breakdown_mark(i as u64);
            op();
            breakdown_mark(i as u64);
        }
        let _ = sys::call_ep(ep, &Msg::new(QUIT, &[]));
        let _ = sys::wait(server);
        Ok(())
    };
    match run() {
        Ok(()) => {
            println!("bench: breakdown done");
            0
        }
        Err(e) => {
            println!("bench: breakdown failed: {e}");
            1
        }
    }
}

/// Where `cargo xtask bench --breakdown` starts and stops counting (a breakpoint on it).
#[no_mangle]
#[inline(never)]
pub extern "C" fn breakdown_mark(operation: u64) {
    core::hint::black_box(operation);
}

/// Answers every call: ECHO with the message it got (the same words, through its own IPC
/// buffer for the longer ones), deleting any capability that came with it; SHARED by copying
/// the bytes out of the shared Frame into its own memory and its answer (the same bytes) back
/// in; QUIT by ending.
fn ipc_server() -> u64 {
    let received = cap::alloc().unwrap_or(41);
    cap::set_recv_slot(0, received);
    // The thread keeps each call's answer itself: it answers every call before the next.
    let reply = REPLY_IN_THREAD;
    if sys::frame_map(GIVEN + 1, SHARED_AT, MapFlags::WRITE, SELF).is_err() {
        return 1;
    }
    let mut mine = vec![0u8; SHARED_BYTES];
    // The message is answered in place: the request that comes replaces the answer.
    let mut m = Msg::default();
    loop {
        if sys::reply_recv_in_place(GIVEN, reply, &mut m).is_err() {
            return 1;
        }
        let info = m.info();
        match info.label {
            QUIT => {
                let _ = sys::send(reply, &Msg::default());
                return 0;
            }
            SHARED => {
                let len = (m.words[0] as usize).min(SHARED_BYTES);
                with_shared(|s| {
                    mine[..len].copy_from_slice(&s[..len]);
                    // Stands for the server using the bytes: without it the compiler may see
                    // that the answer is the request and drop both copies.
                    core::hint::black_box(&mut mine[..len]);
                    s[..len].copy_from_slice(&mine[..len]);
                });
                m = Msg::new(SHARED, &[len as u64]);
            }
            _ => {
                if info.caps > 0 {
                    let _ = sys::cap_delete(received);
                }
                // The same words back (those past the registers are still in our buffer).
                m.info = MsgInfo::new(ECHO, info.words as usize, 0).encode();
            }
        }
    }
}

/// Waits on its notification (slot 2) and signals the client's (slot 3), for ever.
fn ntfn_server() -> u64 {
    loop {
        if sys::ntfn_wait(GIVEN).is_err() || sys::signal(GIVEN + 1).is_err() {
            return 1;
        }
    }
}
