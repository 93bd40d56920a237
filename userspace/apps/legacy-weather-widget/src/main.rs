//! `legacy-weather-widget CITY [ROUNDS]`: a legacy app, as an Android 12 widget was written: it finds
//! `weather` through the ServiceManager, registers an `IWeatherListener` for its city, and
//! asks for the conditions about once a second — all through the `binder` crate and the
//! interfaces generated from `.aidl`, never Seam's native protocols. Whichever backend compat
//! routes the interface to, it sees the same service. When compat itself is gone, it
//! connects again.
//!
//! It prints one line when it first shows its city, and one for each call that fails
//! otherwise than by compat being gone; `compat routes` shows its calls. A call whose
//! backend died under it (`DEAD_OBJECT`) is made once more. With ROUNDS it asks ten times
//! a second, stops after that many calls, and says how it went (`legacy-weather-widget: N
//! calls, F failed, R retried after DEAD_OBJECT, D different answers for one hour, L told
//! by the listener`): whichever backend answers, one hour's conditions must read the same.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::rc::Rc;
use binder::client::Refused;
use binder::{Android, Status, StatusCode};
use legacy_aidl::i_weather_listener::{self, IWeatherListener};
use legacy_aidl::i_weather_service::Proxy;
use legacy_aidl::Conditions;
use rt::{println, sys};

rt::main!(main);

/// What the listener was told.
#[derive(Default)]
struct Told(u64);

impl IWeatherListener for Told {
    fn on_conditions_changed(&mut self, _: Conditions) -> Result<(), Status> {
        self.0 += 1;
        Ok(())
    }
}

#[derive(Default)]
struct Counts {
    calls: u64,
    failed: u64,
    retried: u64,
    /// Answers for an hour that differ from the first answer for it.
    different: u64,
}

/// The service registered as `name`, once it is; None if compat is gone.
fn find(process: &Rc<binder::client::Process>, name: &str) -> Option<binder::client::SpIBinder> {
    loop {
        match process.service_manager().get_service(name) {
            Ok(Some(b)) => return Some(b),
            Ok(None) => sys::sleep(10),
            Err(_) => return None,
        }
    }
}

fn main(args: rt::Args) -> u64 {
    let city = args.get(0).unwrap_or("Oslo");
    let rounds: Option<u64> = args.get(1).and_then(|r| r.parse().ok());
    let pause = if rounds.is_some() { 10 } else { 100 };
    let mut counts = Counts::default();
    let mut shown = false;
    let mut seen: Option<Conditions> = None;
    let listener = Rc::new(i_weather_listener::Local::new(Told::default()));
    loop {
        // A session with compat: ends when compat is gone.
        let Ok(process) = binder::seam::connect(Android::V12) else {
            sys::sleep(10);
            continue;
        };
        let Some(weather) = find(&process, "weather") else { continue };
        let weather = Proxy(weather);
        let mine = process.add_local(listener.clone());
        if weather.add_listener(city, &mine).is_err() {
            continue;
        }
        loop {
            if rounds.is_some_and(|r| counts.calls >= r) {
                let told = listener.0.borrow().0;
                println!(
                    "legacy-weather-widget: {} calls, {} failed, {} retried after DEAD_OBJECT, {} different answers for one hour, {told} told by the listener",
                    counts.calls, counts.failed, counts.retried, counts.different
                );
                return u64::from(counts.failed + counts.different > 0);
            }
            let _ = process.poll();
            counts.calls += 1;
            let mut answer = weather.get_current(city);
            if answer == Err(Refused::Transport(StatusCode::DeadObject)) && process.poll().is_ok() {
                counts.retried += 1;
                sys::sleep(5);
                answer = weather.get_current(city);
            }
            match answer {
                Ok(c) => {
                    match &seen {
                        Some(s) if s.hour == c.hour && *s != c => counts.different += 1,
                        Some(s) if s.hour == c.hour => {}
                        _ => seen = Some(c.clone()),
                    }
                    if !shown {
                        shown = true;
                        let tenths = c.temperature_tenths;
                        let unit = if c.units == "metric" { "C" } else { "F" };
                        println!(
                            "legacy-weather-widget: showing {} through compat: {}.{} {unit} (hour {})",
                            c.city,
                            tenths / 10,
                            (tenths % 10).abs(),
                            c.hour
                        );
                    }
                }
                // Compat is gone: connect again.
                Err(Refused::Transport(StatusCode::DeadObject)) if process.poll().is_err() => break,
                Err(e) => {
                    counts.failed += 1;
                    let told = listener.0.borrow().0;
                    println!(
                        "legacy-weather-widget: call {} failed ({e:?}); {} failed in all, {told} told by the listener",
                        counts.calls, counts.failed
                    );
                }
            }
            sys::sleep(pause);
        }
    }
}
