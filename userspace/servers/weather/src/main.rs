//! `weather`, the weather server (`ipc::proto::weather`): current conditions, forecasts and
//! subscriptions for the cities of its provider, `weather-model` (no network: a seeded model
//! of each city's weather by time slot, so tests predict every answer).
//!
//! - Units come from the settings key `weather.units`. The server watches that key, and
//!   watches the name `settings` too, because the settings server forgets its watches when
//!   it restarts: when the name is registered again, the server watches again and rereads.
//! - Conditions are cached per city for the slot they are for; an answer says how old its
//!   conditions are. The cache holds metric values and answers convert them.
//! - Subscriptions: the server arms its timer for the next slot boundary; when it fires,
//!   each subscriber whose city's conditions changed is signalled. The timer, the settings
//!   watch and the name watch signal one notification bound to the server's thread, with a
//!   badge bit each, so its one `Recv` waits for all of them and for requests.
//!
//! Subscriptions live in memory: after a restart of this server a client subscribes again
//! (its calls fail with `ObjectGone` once, which tells it so).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use ipc::cap::{Kind, Slot, SELF};
use ipc::msg::LABEL_NOTIFICATION;
use ipc::proto::weather::{self as proto, City, Current, Day, Forecast, Request, Units, WeatherError};
use ipc::proto::Long;
use ipc::system::{self, slots, ProgramNumber};
use rt::name::NameServer;
use rt::{cap, ipc, long, println, sys};
use weather_model::{self as model, CITIES};

rt::main!(main);

/// Badge bits of the server's notification.
const UNITS_CHANGED: u64 = 1;
const TIMER: u64 = 2;
const SETTINGS_REGISTERED: u64 = 4;

/// The most subscriptions the server keeps.
const SUBSCRIPTIONS_MAX: usize = 64;

struct Subscription {
    client: ProgramNumber,
    city: usize,
    notification: Slot,
}

/// The provider's answer for a city, kept for the slot it is for.
#[derive(Clone, Copy)]
struct Cached {
    slot: u64,
    conditions: model::Conditions,
    made_at: u64,
}

struct Weather {
    units: Units,
    settings: Option<Slot>,
    /// Badged copies of the server's notification, one per source.
    units_watch: Slot,
    timer: Slot,
    cache: [Option<Cached>; CITIES.len()],
    subscriptions: Vec<Subscription>,
    /// The slot the subscribers were last told about.
    slot: u64,
}

fn main(_: rt::Args) -> u64 {
    let mut weather = match Weather::start() {
        Ok(w) => w,
        Err(e) => {
            println!("weather: {e}");
            return 1;
        }
    };
    let failed = long::serve(slots::SERVICE, |r| {
        if r.message.label == LABEL_NOTIFICATION {
            weather.noticed(r.badge);
            return None;
        }
        let mut name = [0u8; proto::CITY_MAX];
        Some(match (system::caller(r.badge), proto::decode(r.message, &mut name)) {
            (None, _) => proto::refuse(WeatherError::Denied),
            (_, Err(e)) => proto::refuse(e),
            (Some(client), Ok(req)) => weather.handle(client, req, r.incoming).unwrap_or_else(proto::refuse),
        })
    });
    println!("weather: receive failed: {failed}");
    1
}

fn city(name: &str) -> Result<(usize, City), WeatherError> {
    let (index, c) = model::city(name).ok_or(WeatherError::UnknownCity)?;
    Ok((index, City::new(c.name).expect("the table's names fit")))
}

impl Weather {
    fn start() -> Result<Weather, &'static str> {
        let ntfn = cap::create(Kind::Notification, 0).map_err(|_| "no memory for a notification")?;
        sys::ntfn_bind(ntfn).map_err(|_| "cannot bind its notification")?;
        let units_watch = cap::badged(ntfn, UNITS_CHANGED).map_err(|_| "no slot")?;
        let timer = cap::badged(ntfn, TIMER).map_err(|_| "no slot")?;
        let registered = cap::badged(ntfn, SETTINGS_REGISTERED).map_err(|_| "no slot")?;
        // Without settings (a test system may leave it out) the units stay metric.
        let settings = rt::name::lookup("settings").ok().map(|(slot, _)| slot);
        if settings.is_some() && NameServer::GIVEN.watch("settings", registered).is_err() {
            println!("weather: cannot watch the name \"settings\"; units may go stale after it restarts");
        }
        let mut weather = Weather {
            units: Units::Metric,
            settings,
            units_watch,
            timer,
            cache: [None; CITIES.len()],
            subscriptions: Vec::new(),
            slot: model::slot_at(sys::micros_since_boot()),
        };
        weather.follow_units();
        weather.arm_timer();
        Ok(weather)
    }

    /// Watches `weather.units` and reads it.
    fn follow_units(&mut self) {
        let Some(settings) = self.settings else { return };
        let _ = rt::settings::watch(settings, proto::UNITS_KEY, self.units_watch);
        self.read_units();
    }

    fn read_units(&mut self) {
        let Some(settings) = self.settings else { return };
        self.units = match rt::settings::retry_once(|| rt::settings::get(settings, proto::UNITS_KEY)) {
            Ok(rt::settings::Setting::Str(s)) => Units::named(&s).unwrap_or(Units::Metric),
            _ => Units::Metric,
        };
    }

    fn arm_timer(&self) {
        let now = sys::micros_since_boot();
        let next = (model::slot_at(now) + 1) * model::SLOT_MICROS;
        let _ = sys::timer_set(self.timer, next - now);
    }

    /// What the bound notification says happened.
    fn noticed(&mut self, bits: u64) {
        if bits & SETTINGS_REGISTERED != 0 {
            self.follow_units();
        }
        if bits & UNITS_CHANGED != 0 {
            let before = self.units;
            self.read_units();
            if self.units != before {
                // Every subscriber's numbers read differently now.
                for s in &self.subscriptions {
                    let _ = sys::signal(s.notification);
                }
            }
        }
        if bits & TIMER != 0 {
            let slot = model::slot_at(sys::micros_since_boot());
            if slot != self.slot {
                for s in &self.subscriptions {
                    let c = &CITIES[s.city];
                    if model::conditions(c, slot) != model::conditions(c, self.slot) {
                        let _ = sys::signal(s.notification);
                    }
                }
                self.slot = slot;
            }
            self.arm_timer();
        }
    }

    /// The provider's conditions for city `index` now: from the cache if it holds this
    /// slot's, else from the model (and then cached).
    fn conditions(&mut self, index: usize) -> Cached {
        let now = sys::micros_since_boot();
        let slot = model::slot_at(now);
        match self.cache[index] {
            Some(c) if c.slot == slot => c,
            _ => {
                let fresh = Cached { slot, conditions: model::conditions(&CITIES[index], slot), made_at: now };
                self.cache[index] = Some(fresh);
                fresh
            }
        }
    }

    fn handle(&mut self, client: ProgramNumber, request: Request, incoming: Slot) -> Result<Long, WeatherError> {
        match request {
            Request::Current(name) => {
                let (index, city) = city(name)?;
                let cached = self.conditions(index);
                let c = cached.conditions.in_units(self.units);
                Ok(proto::current(&Current {
                    city,
                    slot: cached.slot,
                    temperature: c.temperature,
                    sky: c.sky,
                    humidity: c.humidity,
                    wind: c.wind,
                    units: self.units,
                    age_micros: sys::micros_since_boot() - cached.made_at,
                }))
            }
            Request::Forecast(name, days) => {
                let (index, city) = city(name)?;
                let first_day = model::day_of(model::slot_at(sys::micros_since_boot())) + 1;
                let mut forecast = Forecast {
                    city,
                    first_day,
                    units: self.units,
                    days: [Day { high: 0, low: 0, sky: proto::Sky::Clear }; proto::FORECAST_DAYS_MAX],
                    len: days as usize,
                };
                for (i, day) in forecast.days[..days as usize].iter_mut().enumerate() {
                    let d = model::forecast(&CITIES[index], first_day + i as u64).in_units(self.units);
                    *day = Day { high: d.high, low: d.low, sky: d.sky };
                }
                Ok(proto::forecast(&forecast))
            }
            Request::Subscribe(name) => {
                let (index, _) = city(name)?;
                let existing = self.subscriptions.iter().position(|s| s.client == client && s.city == index);
                if existing.is_none() && self.subscriptions.len() == SUBSCRIPTIONS_MAX {
                    return Err(WeatherError::Full);
                }
                let slot = cap::alloc().map_err(|_| WeatherError::Full)?;
                if sys::cap_move(incoming, slot, SELF).is_err() {
                    cap::free(slot);
                    return Err(WeatherError::NoCapability);
                }
                match existing {
                    Some(i) => cap::release(core::mem::replace(&mut self.subscriptions[i].notification, slot)),
                    None => self.subscriptions.push(Subscription { client, city: index, notification: slot }),
                }
                Ok(proto::done())
            }
            Request::Unsubscribe(name) => {
                let (index, _) = city(name)?;
                let i = self
                    .subscriptions
                    .iter()
                    .position(|s| s.client == client && s.city == index)
                    .ok_or(WeatherError::NotSubscribed)?;
                cap::release(self.subscriptions.swap_remove(i).notification);
                Ok(proto::done())
            }
            Request::City(index) => {
                let c = usize::try_from(index).ok().and_then(|i| CITIES.get(i)).ok_or(WeatherError::UnknownCity)?;
                Ok(proto::city(&City::new(c.name).expect("the table's names fit")))
            }
        }
    }
}
