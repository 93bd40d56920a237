//! `weather-widget [CITY]`: a demo app of the native weather service, the way a home-screen
//! widget uses it. It subscribes to the city's weather and also polls it every few seconds.
//! A restarted weather server has forgotten the subscription: the widget watches the name
//! `weather`, which init registers again at each restart, and subscribes again when it is
//! (a poll would notice too, later). Each time, it publishes what it would show to settings: `widget.weather` (one
//! line: "Oslo: 3.2 C, cloudy (hour 12)") and `widget.updates` (how many times it did).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use ipc::cap::Kind;
use ipc::proto::settings::Value;
use ipc::proto::weather::Tenths;
use rt::name::NameServer;
use rt::weather::{self as weather, Failed};
use rt::{cap, ipc, name, println, settings, sys};

rt::main!(main);

/// How often it polls, besides what the subscription tells it.
const POLL_MICROS: u64 = 5_000_000;
/// Badge bits of its notification.
const CHANGED: u64 = 1;
const POLL: u64 = 2;
const RESTARTED: u64 = 4;

fn main(args: rt::Args) -> u64 {
    let city = args.get(0).unwrap_or("Oslo");
    let (Ok((service, _)), Ok((store, _))) = (name::lookup("weather"), name::lookup("settings")) else {
        println!("weather-widget: needs the weather and settings services");
        return 1;
    };
    let Ok(ntfn) = cap::create(Kind::Notification, 0) else { return 1 };
    let badged = |bit| cap::badged(ntfn, bit);
    let (Ok(changed), Ok(timer), Ok(restarted)) = (badged(CHANGED), badged(POLL), badged(RESTARTED)) else {
        return 1;
    };
    if NameServer::GIVEN.watch("weather", restarted).is_err() {
        println!("weather-widget: cannot watch the name \"weather\"; it will notice restarts by polling");
    }
    let mut updates = 0i64;
    let mut subscribed = false;
    loop {
        if !subscribed {
            subscribed = weather::retry_once(|| weather::subscribe(service, city, changed)).is_ok();
        }
        match weather::current(service, city) {
            Ok(now) => {
                let line = format!(
                    "{}: {} {}, {} (hour {})",
                    now.city.as_str(),
                    Tenths(now.temperature),
                    now.units.degree(),
                    now.sky.text(),
                    now.slot
                );
                updates += 1;
                let published = settings::retry_once(|| settings::set(store, "widget.weather", Value::Str(&line)))
                    .and_then(|()| {
                        settings::retry_once(|| settings::set(store, "widget.updates", Value::Int(updates)))
                    });
                if updates == 1 {
                    println!("weather-widget: showing {line}");
                }
                if let Err(e) = published {
                    println!("weather-widget: cannot publish: {e}");
                }
            }
            // The server died with the call (or before it): it forgot the subscription.
            Err(Failed::Kernel(ipc::Error::ObjectGone)) => {
                subscribed = false;
                continue;
            }
            Err(e) => {
                println!("weather-widget: {city}: {e}");
                return 1;
            }
        }
        let _ = sys::timer_set(timer, POLL_MICROS);
        if sys::ntfn_wait(ntfn).is_ok_and(|bits| bits & (POLL | RESTARTED) != 0) {
            // Subscribe again: the server restarted, or (at a poll) may have.
            subscribed = false;
        }
    }
}
