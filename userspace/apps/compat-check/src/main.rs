//! `compat-check UID`: the compat server checked from a legacy app built for Android 14,
//! whose entry gives it the app uid `UID`. It waits for IEcho through a ServiceManager
//! notification, then checks the ServiceManager's rules, calls and the caller's identity, a
//! callback called while it waits, a Parcel through the Frame, 1,000 ordered oneway calls,
//! the obituary of another app's callback (`compat-old`'s, after it ends), and the death of
//! the service itself: killed through init, it is told, its calls answer DEAD_OBJECT, and
//! when init has started it again the notification brings the new one. Then the weather
//! service compat hosts (`com.example.weather.IWeatherService`, through its generated
//! proxy): its answers and refusals, a listener told of a change, and the same calls after
//! the route is switched to the native weather server through settings, and while that
//! server is killed. The summary says `compat-check android14: N checks, F failed`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use binder::client::{DeathRecipient, Process, Refused, ServiceCallback, SpIBinder};
use binder::codes::FLAG_ONEWAY;
use binder::service_manager::DUMP_FLAG_PRIORITY_DEFAULT;
use binder::{Android, Exception, StatusCode};
use compat_echo::{self as echo, NAME};
use core::cell::{Cell, RefCell};
use ipc::proto::init::Request;
use legacy_aidl::i_gallery_service as gallery_service;
use legacy_aidl::i_weather_listener::{self, IWeatherListener};
use legacy_aidl::i_weather_service as weather_service;
use legacy_aidl::{Conditions, PhotoInfo};
use rt::check::Checks;
use rt::{ipc, println, sys};

rt::main!(main);

/// The services registered under the name it waits for, newest last.
#[derive(Default)]
struct Registered(RefCell<Vec<SpIBinder>>);

impl ServiceCallback for Registered {
    fn on_registration(&self, name: &str, binder: SpIBinder) {
        if name == NAME {
            self.0.borrow_mut().push(binder);
        }
    }
}

/// Executes what arrives until `done` says so, for at most about ten seconds.
fn until(process: &Rc<Process>, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        let _ = process.poll();
        if done() {
            return true;
        }
        sys::sleep(1);
    }
    false
}

fn main(args: rt::Args) -> u64 {
    let mut c = Checks::new("compat-check android14");
    let uid: u32 = args.get(0).and_then(|a| a.parse().ok()).unwrap_or(0);
    let process = match binder::seam::connect(Android::V14) {
        Ok(p) => p,
        Err(e) => {
            println!("FAIL: connect: {e:?}");
            return 1;
        }
    };
    let sm = process.service_manager();
    let registered = Rc::new(Registered::default());
    let r = sm.register_for_notifications(NAME, registered.clone());
    c.check(&format!("asked to hear when '{NAME}' is registered: {r:?}"), r.is_ok());
    c.check("told", until(&process, || !registered.0.borrow().is_empty()));
    let Some(e) = registered.0.borrow().last().cloned() else { return c.done() };

    service_manager(&mut c, &process);
    calls(&mut c, &process, &e, uid, args.pid as u32);
    oneway(&mut c, &e);
    let deaths = || echo::call(&e, echo::DEATHS, 0, |_| {}).and_then(|mut r| Ok(r.read_i32()?));
    c.check(
        "the server is told once when compat-old, which left it a callback, ends",
        until(&process, || deaths() == Ok(1)),
    );
    service_death(&mut c, &process, &e, &registered);
    weather(&mut c, &process);
    gallery(&mut c, &process);
    c.done()
}

/// Routes `iface` to `to` through settings and waits until compat reports it.
fn route(iface: &str, to: &str) -> bool {
    match (rt::name::lookup("settings"), rt::name::lookup("compat")) {
        (Ok((settings, _)), Ok((compat, _))) => rt::compat::switch(settings, compat, iface, to == "native"),
        _ => false,
    }
}

/// The gallery compat hosts: albums made on the legacy route are on the native server after
/// the switch, ids held across it keep their photos, and back again.
fn gallery(c: &mut Checks, process: &Rc<Process>) {
    let Ok(Some(binder)) = process.service_manager().check_service("gallery") else {
        c.check("compat registers 'gallery' with the ServiceManager", false);
        return;
    };
    let g = gallery_service::Proxy(binder);
    let made = g.create_album("Trip");
    c.check(&format!("createAlbum(Trip) on the legacy route: {made:?}"), made.is_ok());
    let mut ids = Vec::new();
    for i in 0..3u8 {
        let photo =
            PhotoInfo { id: 0, name: format!("TRIP_{i}.jpg"), time: 1_790_000_000 + i64::from(i), size_bytes: 1000 };
        match g.add_photo("Trip", &photo, &[i; 300]) {
            Ok(id) => ids.push(id),
            Err(e) => c.check(&format!("addPhoto: {e:?}"), false),
        }
    }
    c.check("three photos added", ids.len() == 3);
    let dup = g.create_album("Trip");
    c.check(
        &format!("an album that exists is EX_ILLEGAL_STATE: {dup:?}"),
        matches!(&dup, Err(Refused::Exception(s)) if s.exception == Exception::IllegalState),
    );
    let before = g.list_photos("Trip", 0, 10);
    c.check("route gallery to native", route("gallery", "native"));
    let native = rt::name::lookup("gallery").ok().and_then(|(n, _)| rt::gallery::list(n, "Trip", 0, 16).ok());
    c.check(
        &format!("the native gallery server holds the album now: {:?}", native.as_ref().map(|p| p.total)),
        native.is_some_and(|p| p.total == 3),
    );
    c.check("listPhotos answers the same after the switch", g.list_photos("Trip", 0, 10) == before);
    let thumb = ids.get(1).map(|&id| g.get_thumbnail(id));
    c.check("an id held across the switch still has its thumbnail", thumb == Some(Ok(alloc::vec![1; 300])));
    c.check("removePhoto on the native route", ids.first().is_some_and(|&id| g.remove_photo(id).is_ok()));
    c.check("route gallery back to legacy", route("gallery", "legacy"));
    let after = g.list_photos("Trip", 0, 10);
    c.check(
        &format!("back on the legacy route, the removal came with it: {:?}", after.as_ref().map(|p| p.len())),
        after.as_ref().is_ok_and(|p| p.len() == 2 && p.iter().all(|p| Some(&p.id) != ids.first())),
    );
    let thumb = ids.get(2).map(|&id| g.get_thumbnail(id));
    c.check("and the ids still name their photos", thumb == Some(Ok(alloc::vec![2; 300])));
}

/// An app's weather listener: the conditions it was told.
#[derive(Default)]
struct Heard(Vec<Conditions>);

impl IWeatherListener for Heard {
    fn on_conditions_changed(&mut self, c: Conditions) -> Result<(), binder::Status> {
        self.0.push(c);
        Ok(())
    }
}

type Listener = i_weather_listener::Local<Heard>;

fn weather(c: &mut Checks, process: &Rc<Process>) {
    let Ok(Some(binder)) = process.service_manager().check_service("weather") else {
        c.check("compat registers 'weather' with the ServiceManager", false);
        return;
    };
    let w = weather_service::Proxy(binder);
    let now = w.get_current("Oslo");
    c.check(
        &format!("getCurrent(Oslo): {now:?}"),
        now.as_ref().is_ok_and(|n| n.city == "Oslo" && n.units == "metric" && (0..=100).contains(&n.humidity_percent)),
    );
    let cities = w.list_cities();
    c.check(&format!("listCities: {cities:?}"), cities.as_ref().is_ok_and(|c| c.len() == 12 && c[0] == "Oslo"));
    let forecast = w.get_forecast("Cairo", 3);
    c.check(
        &format!("getForecast(Cairo, 3): {forecast:?}"),
        forecast.as_ref().is_ok_and(|f| f.len() == 3 && f[0].day + 2 == f[2].day),
    );
    let unknown = w.get_current("Atlantis");
    let illegal = matches!(&unknown, Err(Refused::Exception(s)) if s.exception == Exception::IllegalArgument);
    c.check(&format!("an unknown city is EX_ILLEGAL_ARGUMENT: {unknown:?}"), illegal);
    let listener = Rc::new(Listener::new(Heard::default()));
    let l = process.add_local(listener.clone());
    c.check("addListener(Oslo)", w.add_listener("Oslo", &l).is_ok());
    c.check("the listener is told when Oslo's weather changes", until(process, || !listener.0.borrow().0.is_empty()));

    // Switched to the native server through settings: the same questions, the same answers.
    c.check("route weather to native", route("weather", "native"));
    let native = w.get_current("Oslo");
    c.check(&format!("getCurrent(Oslo) on the native route: {native:?}"), matches!(&native, Ok(n) if n.city == "Oslo"));
    c.check("listCities on the native route", w.list_cities() == cities);
    // The native server killed: calls answer DEAD_OBJECT or work; after the restart, they work.
    let killed = rt::name::lookup(ipc::system::INIT_SERVICE)
        .map_err(|e| e.to_string())
        .and_then(|(init, _)| rt::init::ask(init, Request::Kill("weather")).map_err(|e| e.to_string()));
    c.check(&format!("init kills the native weather server: {:?}", killed.as_ref().map(|_| ())), killed.is_ok());
    let mut failed_other = 0;
    let mut dead = 0;
    let mut ok_after = false;
    for _ in 0..200 {
        match w.get_current("Bergen") {
            Ok(_) => {
                ok_after = true;
                break;
            }
            Err(Refused::Transport(StatusCode::DeadObject)) => dead += 1,
            Err(_) => failed_other += 1,
        }
        sys::sleep(1);
    }
    c.check(
        &format!("calls across the kill: {dead} DEAD_OBJECT, {failed_other} other errors, then answered"),
        ok_after && failed_other == 0,
    );
    c.check("route weather back to legacy", route("weather", "legacy") && w.get_current("Oslo").is_ok());
    c.check("the listener is still told", {
        let before = listener.0.borrow().0.len();
        until(process, || listener.0.borrow().0.len() > before)
    });
}

fn service_manager(c: &mut Checks, process: &Rc<Process>) {
    let sm = process.service_manager();
    let names = sm.list_services(DUMP_FLAG_PRIORITY_DEFAULT);
    c.check(&format!("listServices: {names:?}"), names.as_ref().is_ok_and(|n| n.iter().any(|n| n == NAME)));
    c.check(
        "a missing service is a null binder, not an error",
        matches!(sm.check_service("no.such.service"), Ok(None)),
    );
    c.check("isDeclared: nothing is, on Seam", sm.is_declared(NAME) == Ok(false));
    let refused = sm.add_service("my.service", &echo::shout(process), false, DUMP_FLAG_PRIORITY_DEFAULT);
    let security = matches!(&refused, Err(Refused::Exception(s)) if s.exception == Exception::Security);
    c.check(&format!("an app uid may not add a service: {refused:?}"), security);
}

fn calls(c: &mut Checks, process: &Rc<Process>, e: &SpIBinder, uid: u32, pid: u32) {
    c.check(
        "compat knows this program by its entry's uid and its pid",
        (process.calling_uid(), process.calling_pid()) == (uid, pid),
    );
    let answer = echo::echo(e, "hello");
    c.check(&format!("a call, and who the server saw calling: {answer:?}"), answer == Ok((uid, pid, "hello".into())));
    c.check("PING", e.ping().is_ok());
    c.check("INTERFACE", e.interface_descriptor().as_deref() == Ok(echo::DESCRIPTOR));
    let unknown = echo::call(e, 99, 0, |_| {}).map(drop);
    c.check(&format!("an unknown code: {unknown:?}"), unknown == Err(StatusCode::UnknownTransaction));
    let shout = echo::shout(process);
    let nested = echo::call(e, echo::CALL_BACK, 0, |p| {
        p.write_strong_binder(Some(shout.as_binder()));
        p.write_string16(Some("quiet please"));
    })
    .and_then(|mut r| Ok(r.read_string16()?));
    c.check(
        &format!("the server calls our callback while we wait: {nested:?}"),
        nested == Ok(Some("QUIET PLEASE".into())),
    );
    let long: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let big = echo::echo(e, &long);
    c.check("a 40 KB Parcel goes and comes back through the Frame", big.is_ok_and(|(_, _, t)| t == long));
}

fn oneway(c: &mut Checks, e: &SpIBinder) {
    let mut failed = 0;
    for i in 0..1000 {
        // A full queue (compat's limit per receiver) says so: try again, as a blocked
        // Android sender would.
        loop {
            match echo::call(e, echo::RECORD, FLAG_ONEWAY, |p| p.write_i32(i)) {
                Err(StatusCode::FailedTransaction) => sys::yield_now(),
                Err(_) => {
                    failed += 1;
                    break;
                }
                Ok(_) => break,
            }
        }
    }
    c.check(&format!("1,000 oneway calls sent ({failed} failed)"), failed == 0);
    // Two-way calls are not held behind oneway ones: the server may answer before it has
    // taken them all, so ask until it has.
    let mut recorded = Ok((0, false));
    for _ in 0..1000 {
        recorded = echo::call(e, echo::RECORDED, 0, |_| {}).and_then(|mut r| Ok((r.read_i32()?, r.read_bool()?)));
        if recorded != Ok((1000, true)) && recorded.is_ok_and(|(n, _)| n < 1000) {
            sys::sleep(1);
            continue;
        }
        break;
    }
    c.check(&format!("the server took them one at a time, in order: {recorded:?}"), recorded == Ok((1000, true)));
}

fn service_death(c: &mut Checks, process: &Rc<Process>, e: &SpIBinder, registered: &Rc<Registered>) {
    let told = Rc::new(Cell::new(0));
    let t = told.clone();
    let recipient: Rc<dyn DeathRecipient> = Rc::new(move || t.set(t.get() + 1));
    c.check("linked to the service's death", e.link_to_death(recipient.clone()).is_ok());
    let killed = rt::name::lookup(ipc::system::INIT_SERVICE)
        .map_err(|e| e.to_string())
        .and_then(|(init, _)| rt::init::ask(init, Request::Kill("compat-echo")).map_err(|e| e.to_string()));
    c.check(&format!("init kills compat-echo: {:?}", killed.as_ref().map(|_| ())), killed.is_ok());
    c.check("its obituary comes", until(process, || told.get() > 0));
    c.check("once", told.get() == 1 && process.obituaries() >= 1);
    let dead = echo::echo(e, "still there?");
    c.check(&format!("a call to it answers DEAD_OBJECT: {dead:?}"), dead == Err(StatusCode::DeadObject));
    let late = Rc::new(Cell::new(0));
    let l = late.clone();
    e.link_to_death(Rc::new(move || l.set(l.get() + 1))).ok();
    c.check("linking to the dead tells at once", late.get() == 1);
    c.check("init starts it again and the notification brings it", until(process, || registered.0.borrow().len() >= 2));
    let again = registered.0.borrow().last().cloned().map(|b| echo::echo(&b, "again"));
    c.check(&format!("the new one answers: {again:?}"), matches!(again, Some(Ok((_, _, ref t))) if t == "again"));
}
