//! `hostile [COUNT] [SEED]`: a hostile client of the native servers. It sends each of the
//! name server, the console, settings, weather and the gallery COUNT messages (5,000 unless
//! given) of its own making, from a seeded generator so a run can be repeated:
//!
//! - random labels (the protocol's own and any other) with random words, as short messages
//!   in the registers and long ones through the IPC buffer, up to the most a message holds;
//! - well-formed requests cut short, stretched, or with a word or a byte changed;
//! - capabilities where none are wanted and of the wrong kind where one is: a notification,
//!   a Frame, an endpoint of its own, its Memory.
//!
//! Every message must be answered, by the server (with its answer or its error) or by the
//! kernel (a message it refuses to carry); none may end the server, which would answer its
//! callers with `ObjectGone` and be restarted by init. Every 250 messages, and at the end, a
//! well-formed request must still get the right answer; init must report no restart of any
//! of the five. Requests that would wait for ever by design are not sent: `READ` is the
//! console's only such request, and a client that looked it up as `console` is refused it.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use ipc::cap::{init_slots, Kind, Slot};
use ipc::msg::{MsgInfo, CAPS_MAX, MSG_MAX_WORDS};
use ipc::proto::{self, Long, Message};
use ipc::system::slots;
use rt::check::Checks;
use rt::rand::XorShift;
use rt::sys::{self, Msg};
use rt::{cap, ipc, println};

rt::main!(main);

/// A server under test.
struct Target {
    name: &'static str,
    endpoint: Slot,
    /// Its protocol's labels.
    labels: &'static [u32],
    /// Well-formed requests, to be mangled.
    requests: Vec<Long>,
}

fn long(m: &Message) -> Long {
    let mut l = Long::new(m.label);
    for &w in &m.words[..usize::from(m.len)] {
        l.push(w);
    }
    l
}

fn requests(name: &str) -> Vec<Long> {
    use proto::{gallery as g, name as n, settings as s, weather as w};
    let setting = |r: s::Request| r.encode();
    let found: [Option<Long>; 4] = match name {
        "name" => [
            n::Name::new("settings").map(|x| long(&n::Request::Lookup(x).encode())),
            Some(long(&n::Request::List(0).encode())),
            n::Name::new("weather").map(|x| long(&n::Request::Lookup(x).encode())),
            None,
        ],
        "console" => [
            proto::console::text_message(proto::console::WRITE, "hostile: a well-formed line\n").map(|m| long(&m)),
            None,
            None,
            None,
        ],
        "settings" => [
            setting(s::Request::Get("weather.units")),
            setting(s::Request::Set("hostile.key", s::Value::Int(7))),
            setting(s::Request::Del("hostile.key")),
            setting(s::Request::List("hostile.", 0)),
        ],
        "weather" => [
            w::Request::Current("Oslo").encode(),
            w::Request::Forecast("Oslo", 3).encode(),
            w::Request::City(2).encode(),
            w::Request::Unsubscribe("Oslo").encode(),
        ],
        _ => [
            g::Request::Create("hostile").encode(),
            g::Request::Albums(0).encode(),
            g::Request::List { album: "hostile", first: 0, count: 4 }.encode(),
            g::Request::Search { prefix: "p", from: 0, to: u64::MAX, first: 0 }.encode(),
        ],
    };
    found.into_iter().flatten().collect()
}

/// A word as a hostile client would choose one.
fn word(rng: &mut XorShift) -> u64 {
    match rng.below(6) {
        0 => rng.below(16),
        1 => u64::MAX - rng.below(4),
        2 => 1 << rng.below(64),
        // Text: printable bytes, as names and keys are made of.
        3 => u64::from_le_bytes(core::array::from_fn(|_| b' ' + rng.below(95) as u8)),
        _ => rng.word(),
    }
}

/// Capabilities to send where they do not belong (an empty slot among them), and empty
/// slots for what a server sends back.
struct Extras([Slot; 5], [Slot; CAPS_MAX]);

impl Extras {
    fn new() -> Option<Extras> {
        let notification = cap::create(Kind::Notification, 0).ok()?;
        let frame = cap::create(Kind::Frame, 1).ok()?;
        let endpoint = cap::create(Kind::Endpoint, 0).ok()?;
        let empty = cap::alloc().ok()?;
        let catch = [cap::alloc().ok()?, cap::alloc().ok()?, cap::alloc().ok()?];
        Some(Extras([notification, frame, endpoint, init_slots::MEMORY, empty], catch))
    }
}

/// One hostile message to `t`: the kernel's answer to the call (the server's answer, or the
/// kernel's refusal to carry it).
fn send_one(rng: &mut XorShift, t: &Target, extras: &Extras) -> Result<(), ipc::Error> {
    let caps = if rng.chance(4) { rng.below(CAPS_MAX as u64 + 1) as usize } else { 0 };
    for i in 0..caps {
        cap::set_send_cap(i, extras.0[rng.below(extras.0.len() as u64) as usize]);
    }
    let label = match rng.below(4) {
        0 => rng.word() as u32,
        1 => rng.below(16) as u32,
        _ => t.labels[rng.below(t.labels.len() as u64) as usize],
    };
    match rng.below(4) {
        // Short, in the registers.
        0 => {
            let words = [word(rng), word(rng), word(rng), word(rng)];
            let len = rng.below(5) as usize;
            let info = MsgInfo::new(label, len, caps).encode();
            sys::call_ep(t.endpoint, &Msg { badge: 0, info, words }).map(drop)
        }
        // Long, of random words, up to the most a message holds.
        1 => {
            let mut m = Long::new(label);
            let len = match rng.chance(3) {
                true => MSG_MAX_WORDS,
                false => rng.below(MSG_MAX_WORDS as u64 + 1) as usize,
            };
            (0..len).for_each(|_| {
                let _ = m.push(word(rng));
            });
            m.caps = caps as u8;
            rt::long::call(t.endpoint, &m).map(drop)
        }
        // A well-formed request, mangled.
        _ => {
            let mut m = t.requests[rng.below(t.requests.len() as u64) as usize].clone();
            match rng.below(4) {
                // Cut short.
                0 => m.len = rng.below(m.len as u64) as usize,
                // Stretched past its end, with garbage.
                1 => {
                    let more = 1 + rng.below((MSG_MAX_WORDS - m.len) as u64) as usize;
                    (0..more).for_each(|_| {
                        let _ = m.push(word(rng));
                    });
                }
                // A word changed (lengths and offsets among them).
                2 if m.len > 0 => {
                    let i = rng.below(m.len as u64) as usize;
                    m.words[i] = word(rng);
                }
                // A byte changed.
                _ if m.len > 0 => {
                    let i = rng.below(m.len as u64) as usize;
                    m.words[i] ^= 1 << rng.below(64);
                }
                _ => m.label = rng.word() as u32,
            }
            m.caps = caps as u8;
            rt::long::call(t.endpoint, &m).map(drop)
        }
    }
}

/// Whether the server still gives the right answer to a well-formed request.
fn alive(t: &Target) -> bool {
    match t.name {
        "name" => match rt::name::NameServer(t.endpoint).lookup("settings") {
            Ok((slot, generation)) => {
                cap::release(slot);
                generation > 0
            }
            Err(e) => {
                println!("hostile: the name server refused a lookup: {e}");
                false
            }
        },
        "console" => rt::print::write_to(t.endpoint, "hostile: the console still writes\n"),
        "settings" => {
            let set = rt::settings::set(t.endpoint, "hostile.alive", ipc::proto::settings::Value::Int(42));
            set.is_ok() && rt::settings::get(t.endpoint, "hostile.alive") == Ok(rt::settings::Setting::Int(42))
        }
        "weather" => rt::weather::current(t.endpoint, "Oslo").is_ok_and(|c| c.city.as_str() == "Oslo"),
        _ => rt::gallery::album(t.endpoint, 0).is_ok(),
    }
}

/// Init's restart count of each of `names`, by its list of children.
fn restarts(init: Slot, names: &[&str]) -> Option<Vec<u8>> {
    names.iter().map(|name| rt::init::find(init, name).map(|(_, c)| c.restarts)).collect()
}

fn main(args: rt::Args) -> u64 {
    let count: u64 = args.get(0).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0x0405_711e);
    let mut c = Checks::new("hostile native");
    let names = ["name", "console", "settings", "weather", "gallery"];
    let (Ok((init, _)), Some(extras)) = (rt::name::lookup("init"), Extras::new()) else {
        println!("FAIL: hostile needs init's service and room for its objects");
        return 1;
    };
    let before = restarts(init, &names);
    c.check("init lists the five servers", before.is_some());
    let mut rng = XorShift::new(seed);
    for name in names {
        use proto::{console as co, gallery as g, name as n, settings as s, weather as w};
        let endpoint = match name {
            "name" => Ok(slots::NAME),
            _ => rt::name::lookup(name).map(|(slot, _)| slot),
        };
        let Ok(endpoint) = endpoint else {
            c.check(&format!("{name} is there to test"), false);
            continue;
        };
        let labels: &'static [u32] = match name {
            "name" => &[n::REGISTER, n::LOOKUP, n::LIST, n::WATCH],
            // Not READ: a reader waits for a line (and this client is refused it anyway).
            "console" => &[co::WRITE],
            "settings" => &[s::GET, s::SET, s::DEL, s::LIST, s::WATCH],
            "weather" => &[w::CURRENT, w::FORECAST, w::SUBSCRIBE, w::UNSUBSCRIBE, w::CITY],
            _ => &[g::CREATE, g::DELETE, g::ALBUMS, g::ADD, g::LIST, g::THUMB, g::REMOVE, g::SEARCH],
        };
        let t = Target { name, endpoint, labels, requests: requests(name) };
        let (mut answered, mut refused, mut gone, mut dead_checks) = (0u64, 0u64, 0u64, 0u64);
        for i in 0..count {
            for (i, &slot) in extras.1.iter().enumerate() {
                cap::set_recv_slot(i, slot);
            }
            match send_one(&mut rng, &t, &extras) {
                Ok(()) => answered += 1,
                Err(ipc::Error::ObjectGone) => gone += 1,
                Err(_) => refused += 1,
            }
            // Capabilities a server sent back (a lookup's endpoint) are not kept.
            for &slot in &extras.1 {
                if sys::cap_inspect(slot).is_ok() {
                    let _ = sys::cap_delete(slot);
                }
            }
            if i % 250 == 249 && !alive(&t) {
                dead_checks += 1;
            }
        }
        println!("hostile {name}: {count} messages, {answered} answered, {refused} refused by the kernel, {gone} lost with the server");
        c.check(&format!("{name} answered or refused every message, and never died of one"), gone == 0);
        c.check(&format!("{name} answered well-formed requests rightly throughout"), dead_checks == 0);
        c.check(&format!("{name} still answers rightly at the end"), alive(&t));
    }
    let after = restarts(init, &names);
    c.check(&format!("init restarted none of them ({before:?} -> {after:?})"), before.is_some() && before == after);
    c.done()
}
