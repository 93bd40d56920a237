//! The ServiceManager and compat's own nodes, driven as clients drive them.

use super::*;
use alloc::string::String;
use binder::codes::FLAG_ONEWAY;
use binder::service_manager::{Method, DESCRIPTOR};
use binder::{Android, Exception, Status};
use driver::{Limits, SYSTEM_UID};

const APP: ClientId = 1;
const SYSTEM: ClientId = 2;
const OTHER: ClientId = 3;
const ECHO_PTR: u64 = 0x100;
const ECHO: &str = "seam.test.IEcho";

/// A host with one service: it answers code 1 with the caller's uid, pid and the string sent;
/// code 2 keeps the callback sent; `ping_callbacks` calls each kept callback, oneway.
#[derive(Default)]
struct EchoHost {
    callbacks: Vec<u32>,
    deaths: Vec<u64>,
}

impl Host for EchoHost {
    fn descriptor(&self, ptr: u64) -> Option<&str> {
        (ptr == ECHO_PTR).then_some(ECHO)
    }

    fn transact(&mut self, d: &mut Driver, t: &Transaction, p: &mut Parcel) -> Result<Payload, StatusCode> {
        p.enforce_interface(ECHO)?;
        let mut r = Parcel::for_android(t.android);
        match t.code {
            1 => {
                let text = p.read_string16()?;
                Status::ok().write_to(&mut r);
                r.write_i32(t.uid as i32);
                r.write_i32(t.pid as i32);
                r.write_string16(text.as_deref());
            }
            2 => {
                let Some(Binder::Handle(h)) = p.read_strong_binder()? else { return Err(StatusCode::BadValue) };
                d.acquire(h);
                d.command(COMPAT, false, Command::LinkToDeath { handle: h, cookie: u64::from(h) });
                self.callbacks.push(h);
                Status::ok().write_to(&mut r);
            }
            _ => return Err(StatusCode::UnknownTransaction),
        }
        Ok(payload_of(&r))
    }

    fn binder_died(&mut self, d: &mut Driver, cookie: u64) {
        self.deaths.push(cookie);
        self.callbacks.retain(|&h| u64::from(h) != cookie);
        d.command(COMPAT, false, Command::Release { handle: cookie as u32, count: 1 });
    }
}

impl EchoHost {
    fn ping_callbacks(&self, d: &mut Driver) {
        for &h in &self.callbacks {
            let mut p = Parcel::new();
            p.write_interface_token("seam.test.ICallback");
            let call = Command::Transact { handle: h, code: 1, flags: FLAG_ONEWAY, payload: payload_of(&p) };
            d.command(COMPAT, false, call);
        }
    }
}

fn payload_of(p: &Parcel) -> Payload {
    Payload::from(p.clone())
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
}

struct World {
    compat: Compat,
    host: EchoHost,
}

impl World {
    /// Compat (pid 2) hosting the echo service; an app (uid 10001, pid 11), a system server
    /// (uid 1000, pid 123) and another app (uid 10002, pid 13), all Android 14.
    fn new() -> World {
        let mut w = World { compat: Compat::new(2), host: EchoHost::default() };
        w.compat.add_own_service("echo", ECHO_PTR, &mut w.host);
        w.connect(APP, 10_001, 11, Android::V14);
        w.connect(SYSTEM, SYSTEM_UID, 123, Android::V14);
        w.connect(OTHER, 10_002, 13, Android::V14);
        w
    }

    fn connect(&mut self, client: ClientId, uid: u32, pid: u32, android: Android) {
        let id = Identity { uid, pid, android };
        let _ = self.compat.connect(client, id, Limits::MAX, &mut self.host);
    }

    fn android(&self, client: ClientId) -> Android {
        self.compat.driver.identity(client).unwrap().android
    }

    /// A two-way call answered by compat at once: its reply (or status).
    fn call(&mut self, client: ClientId, handle: u32, code: u32, p: &Parcel) -> Result<Parcel, StatusCode> {
        let cmd = Command::Transact { handle, code, flags: 0, payload: payload_of(p) };
        let out = self.compat.command(client, false, cmd, &mut self.host);
        let mine: Vec<&Delivery> = out.iter().filter(|d| d.to == client).collect();
        match &mine[..] {
            [Delivery { ret: Return::Reply(r, writer), .. }] => {
                Ok(Parcel::from_parts(&r.data, &r.offsets, *writer).expect("good offsets"))
            }
            [Delivery { ret: Return::Status(s), .. }] => Err(*s),
            other => panic!("{other:?}"),
        }
    }

    /// Calls handle 0's `method` in `client`'s release, the arguments written by `args`.
    fn sm(&mut self, client: ClientId, method: Method, args: impl FnOnce(&mut Parcel)) -> Result<Parcel, StatusCode> {
        let android = self.android(client);
        let mut p = Parcel::for_android(android);
        p.write_interface_token(DESCRIPTOR);
        args(&mut p);
        self.call(client, 0, method.code(android).expect("the release has it"), &p)
    }

    fn get(&mut self, client: ClientId, name: &str) -> Option<Binder> {
        let mut r = self.sm(client, Method::GetService, |p| p.write_string16(Some(name))).unwrap();
        assert_eq!(Status::read_from(&mut r), Ok(Status::ok()));
        r.read_strong_binder().unwrap()
    }

    fn add(&mut self, client: ClientId, name: &str, binder: Option<Binder>) -> Status {
        let mut r = self
            .sm(client, Method::AddService, |p| {
                p.write_string16(Some(name));
                p.write_strong_binder(binder);
                p.write_bool(false);
                p.write_i32(service_manager::DUMP_FLAG_PRIORITY_DEFAULT);
            })
            .unwrap();
        Status::read_from(&mut r).unwrap()
    }

    fn list(&mut self, client: ClientId) -> Vec<String> {
        let mut r =
            self.sm(client, Method::ListServices, |p| p.write_i32(service_manager::DUMP_FLAG_PRIORITY_ALL)).unwrap();
        assert!(Status::read_from(&mut r).unwrap().is_ok());
        r.read_string16_array().unwrap().unwrap()
    }

    fn poll(&mut self, client: ClientId) -> Return {
        let out = self.compat.command(client, false, Command::Wait { block: false }, &mut self.host);
        assert_eq!(out.len(), 1, "{out:?}");
        out.into_iter().next().unwrap().ret
    }
}

fn local(ptr: u64) -> Option<Binder> {
    Some(Binder::Local { ptr, cookie: 0 })
}

#[test]
fn a_missing_service_is_a_null_binder_in_androids_bytes() {
    let mut w = World::new();
    let r = w.sm(APP, Method::GetService, |p| p.write_string16(Some("nothing"))).unwrap();
    // No exception, then a null binder with flags 0 (servicemanager's), stability 0.
    assert_eq!(r.data(), &hex("00000000 852a6273 00000000 00000000 00000000 00000000 00000000 00000000")[..]);
    assert!(matches!(w.get(APP, "echo"), Some(Binder::Handle(h)) if h != 0));
}

#[test]
fn add_get_list_and_the_rules() {
    let mut w = World::new();
    assert!(w.add(SYSTEM, "foo", local(0xf0)).is_ok());
    let Some(Binder::Handle(h)) = w.get(APP, "foo") else { panic!("not a handle") };
    // The app's call reaches the system server with the app's identity.
    let mut p = Parcel::new();
    p.write_i32(5);
    let cmd = Command::Transact { handle: h, code: 3, flags: 0, payload: payload_of(&p) };
    assert!(w.compat.command(APP, false, cmd, &mut w.host).is_empty(), "the app waits");
    let Return::Transaction(t) = w.poll(SYSTEM) else { panic!() };
    assert_eq!((t.ptr, t.code, t.uid, t.pid), (0xf0, 3, 10_001, 11));
    let answer = Command::Reply { result: Ok(Payload::default()), wait: false };
    let out = w.compat.command(SYSTEM, false, answer, &mut w.host);
    assert_eq!(out.len(), 2, "the answer to the app, and done to the system server: {out:?}");
    // The rules, in servicemanager's order and words.
    let refused = |e, m: &str| Status::exception(e, m);
    assert_eq!(w.add(APP, "mine", local(0xa0)), refused(Exception::Security, "App UIDs cannot add services."));
    assert_eq!(w.add(SYSTEM, "nul", None), refused(Exception::IllegalArgument, "Null binder."));
    assert_eq!(w.add(SYSTEM, "bad name", local(1)), refused(Exception::IllegalArgument, "Invalid service name."));
    assert_eq!(w.add(SYSTEM, "", local(1)), refused(Exception::IllegalArgument, "Invalid service name."));
    assert!(w.add(SYSTEM, "ab", local(0xab)).is_ok());
    assert_eq!(w.list(OTHER), ["ab", "echo", "foo"]);
    // The listing's bytes: status, count, String16s.
    let r = w.sm(OTHER, Method::ListServices, |p| p.write_i32(service_manager::DUMP_FLAG_PRIORITY_ALL)).unwrap();
    assert_eq!(
        r.data(),
        &hex("00000000 03000000 02000000 61006200 00000000 04000000 65006300 68006f00 00000000
              03000000 66006f00 6f000000")[..]
    );
    // Not declared (no VINTF manifest); the optional answers are empty.
    let mut r = w.sm(APP, Method::IsDeclared, |p| p.write_string16(Some("foo"))).unwrap();
    assert!(Status::read_from(&mut r).unwrap().is_ok());
    assert_eq!(r.read_bool(), Ok(false));
    let r = w.sm(APP, Method::GetConnectionInfo, |p| p.write_string16(Some("foo"))).unwrap();
    assert_eq!(r.data(), &hex("00000000 00000000")[..]);
}

#[test]
fn debug_info_matches_androids_bytes() {
    let mut w = World::new();
    let mut only = World { compat: Compat::new(2), host: EchoHost::default() };
    only.connect(SYSTEM, SYSTEM_UID, 123, Android::V14);
    assert!(only.add(SYSTEM, "foo", local(0xf0)).is_ok());
    let r = only.sm(SYSTEM, Method::GetServiceDebugInfo, |_| {}).unwrap();
    assert_eq!(r.data(), &hex("00000000 01000000 01000000 14000000 03000000 66006f00 6f000000 7b000000")[..]);
    // Compat's own services report compat's pid.
    let services = w.compat.sm.services(&w.compat.driver);
    assert_eq!(services.len(), 1);
    assert_eq!((services[0].name.as_str(), services[0].pid, services[0].own), ("echo", 2, true));
    let _ = w.list(APP);
}

#[test]
fn a_hosts_death_takes_its_names_and_sends_obituaries() {
    let mut w = World::new();
    let baseline = w.compat.driver.counts();
    assert!(w.add(SYSTEM, "foo", local(0xf0)).is_ok());
    assert!(w.add(SYSTEM, "foo.alias", local(0xf0)).is_ok());
    let Some(Binder::Handle(h)) = w.get(APP, "foo") else { panic!() };
    let link = Command::LinkToDeath { handle: h, cookie: 77 };
    assert_eq!(w.compat.command(APP, false, link, &mut w.host), [Delivery { to: APP, ret: Return::Done }]);
    let _ = w.compat.disconnect(SYSTEM, &mut w.host);
    assert_eq!(w.poll(APP), Return::DeadBinder(77));
    assert_eq!(w.get(OTHER, "foo"), None);
    assert_eq!(w.get(OTHER, "foo.alias"), None);
    assert_eq!(w.list(OTHER), ["echo"]);
    let cmd = Command::Transact { handle: h, code: 1, flags: 0, payload: Payload::default() };
    assert_eq!(
        w.compat.command(APP, false, cmd, &mut w.host),
        [Delivery { to: APP, ret: Return::Status(StatusCode::DeadObject) }]
    );
    let release = Command::Release { handle: h, count: 1 };
    assert_eq!(w.compat.command(APP, false, release, &mut w.host), [Delivery { to: APP, ret: Return::Done }]);
    assert_eq!(w.compat.driver.counts(), baseline, "no node or handle left behind");
}

#[test]
fn notifications_come_when_a_name_is_added_and_at_once_when_it_is_there() {
    let mut w = World::new();
    let register = |w: &mut World, name: &str, ptr: u64| {
        let mut r = w
            .sm(APP, Method::RegisterForNotifications, |p| {
                p.write_string16(Some(name));
                p.write_strong_binder(local(ptr));
            })
            .unwrap();
        Status::read_from(&mut r).unwrap()
    };
    assert!(register(&mut w, "bar", 0xca11).is_ok());
    assert!(w.add(SYSTEM, "bar", local(0xba)).is_ok());
    let check = |ret: Return, name: &str, ptr: u64| {
        let Return::Transaction(t) = ret else { panic!("{ret:?}") };
        assert_eq!((t.ptr, t.code, t.flags & FLAG_ONEWAY, t.uid, t.pid), (ptr, 1, FLAG_ONEWAY, SYSTEM_UID, 0));
        let mut p = Parcel::from_parts(&t.payload.data, &t.payload.offsets, Android::V14).unwrap();
        p.enforce_interface(service_manager::SERVICE_CALLBACK_DESCRIPTOR).unwrap();
        assert_eq!(p.read_string16_nonnull().unwrap(), name);
        assert!(matches!(p.read_strong_binder(), Ok(Some(Binder::Handle(_)))));
    };
    check(w.poll(APP), "bar", 0xca11);
    // Registering for a name that is there is answered with its registration at once.
    assert!(register(&mut w, "echo", 0xca12).is_ok());
    // (The first callback's oneway call is still being handled: it is freed with `free`.)
    let out = w.compat.command(APP, true, Command::Wait { block: false }, &mut w.host);
    check(out.into_iter().next().unwrap().ret, "echo", 0xca12);
    assert_eq!(register(&mut w, "x y", 0xca13), Status::exception(Exception::IllegalArgument, "Invalid service name."));
    assert_eq!(register(&mut w, "bar", 0), Status::exception(Exception::NullPointer, "Null callback."));
}

#[test]
fn android_10_clients_speak_the_c_servicemanager() {
    let mut w = World::new();
    w.connect(OTHER, 10_002, 13, Android::V10);
    assert!(w.add(SYSTEM, "foo", local(0xf0)).is_ok());
    // A lookup is answered with a bare object, flags 0x17f, no status, no stability.
    let mut r = w.sm(OTHER, Method::CheckService, |p| p.write_string16(Some("foo"))).unwrap();
    assert_eq!(r.data().len(), 24);
    assert_eq!(r.read_u32(), Err(binder::ParcelError::BadType), "an object, not a word");
    let object = binder::FlatObject::read(r.data(), 0).unwrap();
    assert_eq!((object.kind, object.flags), (binder::parcel::BINDER_TYPE_HANDLE, 0x17f));
    let r = w.sm(OTHER, Method::GetService, |p| p.write_string16(Some("none"))).unwrap();
    assert_eq!(r.data(), &hex("00000000")[..]);
    // Adding from an app uid is the status -1; the list is by index, newest first.
    let add = |w: &mut World, client, name: &str| {
        w.sm(client, Method::AddService, |p| {
            p.write_string16(Some(name));
            p.write_strong_binder(local(0x10));
            p.write_i32(0);
            p.write_i32(service_manager::DUMP_FLAG_PRIORITY_DEFAULT);
        })
    };
    assert_eq!(add(&mut w, OTHER, "mine").map(|r| r.data().to_vec()), Err(StatusCode::PermissionDenied));
    w.connect(OTHER, SYSTEM_UID, 13, Android::V10);
    assert_eq!(add(&mut w, OTHER, "old").unwrap().data(), &hex("00000000")[..]);
    let nth = |w: &mut World, i: i32| {
        w.sm(OTHER, Method::ListServices, |p| {
            p.write_i32(i);
            p.write_i32(service_manager::DUMP_FLAG_PRIORITY_ALL);
        })
        .map(|mut r| r.read_string16_nonnull().unwrap())
    };
    assert_eq!(nth(&mut w, 0).as_deref(), Ok("old"));
    assert_eq!(nth(&mut w, 1).as_deref(), Ok("foo"));
    assert_eq!(nth(&mut w, 2).as_deref(), Ok("echo"));
    assert_eq!(nth(&mut w, 3), Err(StatusCode::PermissionDenied));
}

#[test]
fn each_release_gets_its_own_stability_word() {
    let mut w = World::new();
    assert!(w.add(SYSTEM, "foo", local(0xf0)).is_ok());
    for (android, word) in
        [(Android::V11, 0x0c), (Android::V12, 0x0c00_0001), (Android::V13, 0x0c), (Android::V14, 0x0c)]
    {
        w.connect(OTHER, 10_002, 13, android);
        let r = w.sm(OTHER, Method::GetService, |p| p.write_string16(Some("foo"))).unwrap();
        assert_eq!(r.data().len(), 4 + 24 + 4, "{android:?}");
        assert_eq!(r.data()[28..], (word as u32).to_le_bytes(), "{android:?}");
        // And the codes are that release's: Android 11 has no getServiceDebugInfo.
        let code_14 = Method::GetServiceDebugInfo.code(Android::V14).unwrap();
        let mut p = Parcel::for_android(android);
        p.write_interface_token(DESCRIPTOR);
        let answer = w.call(OTHER, 0, code_14, &p);
        assert_eq!(answer.is_err(), android <= Android::V13, "{android:?}: {answer:?}");
    }
}

#[test]
fn built_in_transactions_and_refusals() {
    let mut w = World::new();
    let Some(Binder::Handle(echo)) = w.get(APP, "echo") else { panic!() };
    for handle in [0, echo] {
        assert_eq!(w.call(APP, handle, binder::codes::PING, &Parcel::new()).unwrap().data(), &[] as &[u8]);
    }
    let mut r = w.call(APP, echo, binder::codes::INTERFACE, &Parcel::new()).unwrap();
    assert_eq!(r.read_string16_nonnull().unwrap(), ECHO);
    assert_eq!(r.data_avail(), 0, "the bare descriptor, no status");
    let mut r = w.call(APP, 0, binder::codes::INTERFACE, &Parcel::new()).unwrap();
    assert_eq!(r.read_string16_nonnull().unwrap(), DESCRIPTOR);
    let mut r = w.call(APP, 0, binder::codes::DEBUG_PID, &Parcel::new()).unwrap();
    assert_eq!(r.read_i32(), Ok(2));
    let mut p = Parcel::new();
    p.write_interface_token(DESCRIPTOR);
    assert_eq!(w.call(APP, 0, 99, &p).map(|_| ()), Err(StatusCode::UnknownTransaction));
    assert_eq!(w.call(APP, echo, 99, &p).map(|_| ()), Err(StatusCode::BadType), "the wrong interface");
    let mut p = Parcel::new();
    p.write_interface_token("android.os.IOther");
    assert_eq!(w.call(APP, 0, 1, &p).map(|_| ()), Err(StatusCode::BadType));
    // A truncated request is a read error, not a crash.
    let mut p = Parcel::new();
    p.write_interface_token(DESCRIPTOR);
    p.write_i32(100);
    assert_eq!(w.call(APP, 0, 1, &p).map(|_| ()), Err(StatusCode::BadValue));
}

#[test]
fn a_hosted_service_sees_its_callers_and_calls_their_callbacks() {
    let mut w = World::new();
    let baseline = w.compat.driver.counts();
    let Some(Binder::Handle(echo)) = w.get(APP, "echo") else { panic!() };
    let mut p = Parcel::new();
    p.write_interface_token(ECHO);
    p.write_string16(Some("hi"));
    let mut r = w.call(APP, echo, 1, &p).unwrap();
    assert!(Status::read_from(&mut r).unwrap().is_ok());
    assert_eq!((r.read_i32(), r.read_i32()), (Ok(10_001), Ok(11)));
    assert_eq!(r.read_string16().unwrap().as_deref(), Some("hi"));
    // The app gives the service a callback; the service calls it later, oneway.
    let mut p = Parcel::new();
    p.write_interface_token(ECHO);
    p.write_strong_binder(local(0xcb));
    assert!(w.call(APP, echo, 2, &p).is_ok());
    w.host.ping_callbacks(&mut w.compat.driver);
    let out = w.compat.settle(&mut w.host);
    assert!(out.is_empty(), "the app is not waiting");
    let Return::Transaction(t) = w.poll(APP) else { panic!() };
    assert_eq!((t.ptr, t.uid, t.pid), (0xcb, SYSTEM_UID, 0));
    // The app dies: the service's link fires, it lets go, and nothing is left.
    let release = Command::Release { handle: echo, count: 1 };
    assert_eq!(w.compat.command(APP, true, release, &mut w.host), [Delivery { to: APP, ret: Return::Done }]);
    let _ = w.compat.disconnect(APP, &mut w.host);
    assert_eq!(w.host.deaths.len(), 1);
    assert!(w.host.callbacks.is_empty());
    assert_eq!(w.compat.driver.counts(), baseline);
}

/// A small seeded generator (xorshift64*), so a failing run repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random Parcel: sometimes a real request to handle 0 or the echo service, mutated; else
/// random words with binder objects of every kind (forged handles, other clients' handles,
/// local binders) at offsets right or wrong.
fn hostile_payload(rng: &mut Rng, android: Android) -> Payload {
    let mut p = Parcel::for_android(android);
    if rng.below(3) == 0 {
        p.write_interface_token(if rng.below(2) == 0 { DESCRIPTOR } else { ECHO });
    }
    for _ in 0..rng.below(6) {
        match rng.below(5) {
            0 => p.write_i32(rng.next() as i32),
            1 => p.write_string16(Some(["foo", "echo", "", "bad name", "x"][rng.below(5) as usize])),
            2 => p.write_strong_binder(Some(Binder::Handle(rng.below(8) as u32))),
            3 => p.write_strong_binder(Some(Binder::Local { ptr: rng.below(4) + 1, cookie: rng.below(2) })),
            _ => p.write_strong_binder(None),
        }
    }
    let mut payload = payload_of(&p);
    match rng.below(6) {
        0 if !payload.data.is_empty() => {
            let at = rng.below(payload.data.len() as u64) as usize;
            payload.data[at] ^= 1 << rng.below(8);
        }
        1 => payload.offsets.push(rng.below(payload.data.len() as u64 + 8) as usize),
        2 => payload.data.truncate(rng.below(payload.data.len() as u64 + 1) as usize),
        3 => payload.offsets.reverse(),
        _ => {}
    }
    payload
}

#[test]
fn hostile_clients_cannot_break_the_driver_or_leak_it() {
    for seed in 1..=20u64 {
        let mut w = World::new();
        let baseline = w.compat.driver.counts();
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let clients = [APP, SYSTEM, OTHER, 4, 5];
        for _ in 0..5_000 {
            let client = clients[rng.below(clients.len() as u64) as usize];
            if !w.compat.driver.is_connected(client) || rng.below(200) == 0 {
                let android =
                    [Android::V10, Android::V11, Android::V12, Android::V13, Android::V14][rng.below(5) as usize];
                let uid = if rng.below(2) == 0 { SYSTEM_UID } else { 10_000 + client };
                w.connect(client, uid, 10 + client, android);
                continue;
            }
            if rng.below(300) == 0 {
                let _ = w.compat.disconnect(client, &mut w.host);
                continue;
            }
            if w.compat.driver.is_waiting(client) && rng.below(20) != 0 {
                // It cannot send while it waits (one try in twenty checks that it is refused).
                continue;
            }
            let android = w.android(client);
            let handle = rng.below(8) as u32;
            let command = match rng.below(10) {
                9 => {
                    // A well-formed ServiceManager call, so that real handles go around.
                    let mut p = Parcel::for_android(android);
                    p.write_interface_token(DESCRIPTOR);
                    let name = ["foo", "echo", "bar"][rng.below(3) as usize];
                    p.write_string16(Some(name));
                    let method = if rng.below(2) == 0 { Method::GetService } else { Method::AddService };
                    if method == Method::AddService {
                        p.write_strong_binder(Some(Binder::Local { ptr: rng.below(3) + 1, cookie: 0 }));
                        p.write_bool(false);
                        p.write_i32(service_manager::DUMP_FLAG_PRIORITY_DEFAULT);
                    }
                    let code = method.code(android).unwrap();
                    Command::Transact { handle: 0, code, flags: 0, payload: payload_of(&p) }
                }
                0..=2 => {
                    let code = [1, 2, 3, 4, 5, 7, 14, binder::codes::PING, binder::codes::INTERFACE, u32::MAX]
                        [rng.below(10) as usize];
                    let flags = if rng.below(3) == 0 { FLAG_ONEWAY } else { 0 };
                    Command::Transact { handle, code, flags, payload: hostile_payload(&mut rng, android) }
                }
                3 => Command::Reply { result: Ok(hostile_payload(&mut rng, android)), wait: rng.below(2) == 0 },
                4 => Command::Reply { result: Err(StatusCode::from_i32(rng.next() as i32)), wait: false },
                5 => Command::Wait { block: rng.below(2) == 0 },
                6 => Command::Release { handle, count: rng.below(3) as u32 },
                7 => Command::LinkToDeath { handle, cookie: rng.next() },
                _ => Command::UnlinkToDeath { handle, cookie: rng.below(4) },
            };
            let free = rng.below(2) == 0;
            // Each delivery goes to a client that was waiting, and at most one to each.
            let out = w.compat.command(client, free, command, &mut w.host);
            let mut to: Vec<ClientId> = out.iter().map(|d| d.to).collect();
            to.sort_unstable();
            to.dedup();
            assert_eq!(to.len(), out.len(), "seed {seed}: two returns for one client: {out:?}");
        }
        // The run went somewhere: calls answered, clients died with links on them.
        let stats = w.compat.driver.stats;
        assert!(stats.replies >= 50 && stats.obituaries > 0, "seed {seed}: {stats:?}");
        for client in clients {
            let _ = w.compat.disconnect(client, &mut w.host);
        }
        let (nodes, handles) = w.compat.driver.counts();
        // What is left: compat's own nodes, and the handles compat's own code still holds
        // for dead binders until it lets go (none: the ServiceManager drops them on death).
        assert_eq!((nodes, handles), baseline, "seed {seed}");
        // Names left are compat's own (a client may register compat's echo under more names).
        let services = w.compat.sm.services(&w.compat.driver);
        assert!(services.iter().all(|s| s.own), "seed {seed}: {services:?}");
    }
}
