//! `com.example.weather.IWeatherService` as compat hosts it: the AIDL interface legacy apps
//! call, answered by one of two backends, chosen per call by the route:
//!
//! - **legacy**: the implementation inside compat, the weather model computed here, as the
//!   old system's service did;
//! - **native**: forwarded to Seam's weather server (`ipc::proto::weather`), through a
//!   [`WeatherBackend`] the process supplies.
//!
//! Both answer in the native protocol's types, and one conversion makes the Parcel, so a
//! reply's bytes do not depend on the backend. Listeners (`IWeatherListener`, oneway) live
//! here, whatever the route: at each model hour ([`WeatherService::tick`]) the backend of
//! the moment is asked for each listened city, and a listener whose city changed is called.

use crate::driver::{Command, Driver, Payload, COMPAT};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use binder::codes::FLAG_ONEWAY;
use binder::{Binder, Exception, Parcel, Status, StatusCode};
use ipc::proto::weather::{City, Current, Forecast, Units, WeatherError, FORECAST_DAYS_MAX};
use legacy_aidl::i_weather_listener;
use legacy_aidl::i_weather_service::IWeatherService;
use legacy_aidl::{Conditions, DayForecast, Parcelable};
use weather_model as model;

/// Why a weather backend did not answer.
pub type Failure = crate::routes::Failure<WeatherError>;

pub use crate::routes::Route;
use crate::routes::Routing;

/// Who answers: the native weather server's protocol, or compat's own model.
pub trait WeatherBackend {
    fn current(&mut self, city: &str) -> Result<Current, Failure>;
    fn forecast(&mut self, city: &str, days: u64) -> Result<Forecast, Failure>;
    /// The `index`th city; None past the last.
    fn city(&mut self, index: u64) -> Result<Option<City>, Failure>;
}

/// The legacy backend: the weather model, computed in compat, in the units it is told.
pub struct LegacyWeather {
    pub units: Units,
    /// Microseconds since boot (the model's clock).
    pub clock: Box<dyn Fn() -> u64 + Send>,
}

fn city_of(name: &str) -> Result<(usize, City), Failure> {
    let (index, c) = model::city(name).ok_or(Failure::Refused(WeatherError::UnknownCity))?;
    Ok((index, City::new(c.name).ok_or(Failure::Refused(WeatherError::UnknownCity))?))
}

impl WeatherBackend for LegacyWeather {
    fn current(&mut self, name: &str) -> Result<Current, Failure> {
        let (index, city) = city_of(name)?;
        let slot = model::slot_at((self.clock)());
        let c = model::conditions(&model::CITIES[index], slot).in_units(self.units);
        Ok(Current {
            city,
            slot,
            temperature: c.temperature,
            sky: c.sky,
            humidity: c.humidity,
            wind: c.wind,
            units: self.units,
            age_micros: 0,
        })
    }

    fn forecast(&mut self, name: &str, days: u64) -> Result<Forecast, Failure> {
        let (index, city) = city_of(name)?;
        if days == 0 || days > FORECAST_DAYS_MAX as u64 {
            return Err(Failure::Refused(WeatherError::BadDays));
        }
        let first_day = model::day_of(model::slot_at((self.clock)())) + 1;
        let mut f = Forecast {
            city,
            first_day,
            units: self.units,
            days: [ipc::proto::weather::Day { high: 0, low: 0, sky: model::Sky::Clear }; FORECAST_DAYS_MAX],
            len: days as usize,
        };
        for (i, day) in f.days[..days as usize].iter_mut().enumerate() {
            let d = model::forecast(&model::CITIES[index], first_day + i as u64).in_units(self.units);
            *day = ipc::proto::weather::Day { high: d.high, low: d.low, sky: d.sky };
        }
        Ok(f)
    }

    fn city(&mut self, index: u64) -> Result<Option<City>, Failure> {
        Ok(usize::try_from(index).ok().and_then(|i| model::CITIES.get(i)).and_then(|c| City::new(c.name)))
    }
}

/// A listener: compat's handle for it, the city, and what it was last told.
struct Listener {
    handle: u32,
    city: String,
    last: Option<Conditions>,
}

/// What a call asked of the driver, done after it (the generated trait has no driver).
enum Pending {
    /// Keep the listener handle (one more reference, and a death link).
    Keep(u32),
    /// Let it go.
    Release(u32),
}

/// The cookies of compat's death links to listeners: this bit and the handle.
pub const LISTENER_COOKIE: u64 = 1 << 62;

/// The service: its two backends, the route, the listeners, and the calls each backend
/// answered.
pub struct WeatherService {
    pub legacy: LegacyWeather,
    pub native: Box<dyn WeatherBackend + Send>,
    pub routing: Routing,
    listeners: Vec<Listener>,
    pending: Vec<Pending>,
}

fn refused(e: Failure) -> Status {
    match e {
        Failure::Refused(WeatherError::UnknownCity) => Status::exception(Exception::IllegalArgument, "unknown city"),
        Failure::Refused(WeatherError::BadDays) => Status::exception(Exception::IllegalArgument, "days must be 1 to 7"),
        Failure::Refused(e) => Status::service_specific(e.code() as i32, &e.to_string()),
        // Never seen: the call answers DEAD_OBJECT instead (`answer`).
        Failure::Gone => Status::exception(Exception::IllegalState, "the service is gone"),
    }
}

/// The AIDL parcelable of a native answer.
pub fn conditions(c: &Current) -> Conditions {
    Conditions {
        city: c.city.as_str().into(),
        units: c.units.name().into(),
        hour: c.slot as i64,
        temperature_tenths: c.temperature as i32,
        sky: c.sky as i32,
        humidity_percent: c.humidity as i32,
        wind_tenths: c.wind as i32,
    }
}

impl WeatherService {
    pub fn new(legacy: LegacyWeather, native: Box<dyn WeatherBackend + Send>, route: Route) -> WeatherService {
        WeatherService { legacy, native, routing: Routing::new(route), listeners: Vec::new(), pending: Vec::new() }
    }

    /// The backend of the route, counted as serving one call.
    fn backend(&mut self) -> &mut dyn WeatherBackend {
        match self.routing.pick() {
            Route::Legacy => &mut self.legacy,
            Route::Native => self.native.as_mut(),
        }
    }

    fn answer<T>(&mut self, r: Result<T, Failure>) -> Result<T, Status> {
        self.routing.answer(r, refused)
    }

    /// A call to the service: the reply, or a status (`DEAD_OBJECT` if its backend died
    /// under it). Listener handles it keeps are acquired and linked through `d`.
    pub fn transact(
        &mut self,
        d: &mut Driver,
        code: u32,
        data: &mut Parcel,
        reply: &mut Parcel,
    ) -> Result<(), StatusCode> {
        self.routing.begin();
        let result = legacy_aidl::i_weather_service::on_transact(self, code, data, reply);
        for p in core::mem::take(&mut self.pending) {
            match p {
                Pending::Keep(h) => {
                    d.acquire(h);
                    let link = Command::LinkToDeath { handle: h, cookie: LISTENER_COOKIE | u64::from(h) };
                    if let Some(crate::driver::Return::DeadBinder(c)) = d.command(COMPAT, false, link) {
                        d.requeue_local(crate::driver::Return::DeadBinder(c));
                    }
                }
                Pending::Release(h) => {
                    let _ = d.command(COMPAT, false, Command::Release { handle: h, count: 1 });
                }
            }
        }
        self.routing.end(result)
    }

    /// A listener died (its death link's cookie): it is dropped.
    pub fn listener_died(&mut self, d: &mut Driver, cookie: u64) {
        let h = (cookie & !LISTENER_COOKIE) as u32;
        let before = self.listeners.len();
        self.listeners.retain(|l| l.handle != h);
        for _ in self.listeners.len()..before {
            let _ = d.command(COMPAT, false, Command::Release { handle: h, count: 1 });
        }
    }

    /// The model hour may have turned: each listener whose city's conditions differ from
    /// what it was last told is told, oneway, in its own release.
    pub fn tick(&mut self, d: &mut Driver) {
        // One question to the backend per city, however many listen to it.
        let mut now: BTreeMap<String, Option<Conditions>> = BTreeMap::new();
        for i in 0..self.listeners.len() {
            let city = self.listeners[i].city.clone();
            if !now.contains_key(&city) {
                let c = self.backend().current(&city).ok().map(|c| conditions(&c));
                now.insert(city.clone(), c);
            }
            let Some(c) = now[&city].clone() else { continue };
            if self.listeners[i].last.as_ref() == Some(&c) {
                continue;
            }
            let handle = self.listeners[i].handle;
            let mut p = Parcel::for_android(d.host_of(COMPAT, handle).map_or(binder::Android::V14, |i| i.android));
            p.write_interface_token(i_weather_listener::DESCRIPTOR);
            p.write_i32(1);
            c.write_body(&mut p);
            let payload = Payload::from(p);
            let call = Command::Transact {
                handle,
                code: i_weather_listener::ON_CONDITIONS_CHANGED,
                flags: FLAG_ONEWAY,
                payload,
            };
            let _ = d.command(COMPAT, false, call);
            self.listeners[i].last = Some(c);
        }
    }

    /// How many listeners it has.
    pub fn listeners(&self) -> usize {
        self.listeners.len()
    }
}

impl IWeatherService for WeatherService {
    fn get_current(&mut self, city: String) -> Result<Conditions, Status> {
        let r = self.backend().current(&city);
        self.answer(r).map(|c| conditions(&c))
    }

    fn get_forecast(&mut self, city: String, days: i32) -> Result<Vec<DayForecast>, Status> {
        let days = u64::try_from(days).map_err(|_| refused(Failure::Refused(WeatherError::BadDays)))?;
        let r = self.backend().forecast(&city, days);
        let f = self.answer(r)?;
        Ok(f.days()
            .iter()
            .enumerate()
            .map(|(i, d)| DayForecast {
                day: (f.first_day + i as u64) as i64,
                high_tenths: d.high as i32,
                low_tenths: d.low as i32,
                sky: d.sky as i32,
            })
            .collect())
    }

    fn list_cities(&mut self) -> Result<Vec<String>, Status> {
        let mut names = Vec::new();
        loop {
            let r = self.backend().city(names.len() as u64);
            match self.answer(r)? {
                Some(c) => names.push(c.as_str().into()),
                None => return Ok(names),
            }
        }
    }

    fn add_listener(&mut self, city: String, listener: Binder) -> Result<(), Status> {
        let Binder::Handle(handle) = listener else {
            return Err(Status::exception(Exception::IllegalArgument, "a listener of compat's own"));
        };
        let r = self.backend().current(&city);
        let now = self.answer(r)?;
        self.listeners.push(Listener { handle, city, last: Some(conditions(&now)) });
        self.pending.push(Pending::Keep(handle));
        Ok(())
    }

    fn remove_listener(&mut self, listener: Binder) -> Result<(), Status> {
        let Binder::Handle(handle) = listener else {
            return Err(Status::exception(Exception::IllegalArgument, "not a listener"));
        };
        let Some(i) = self.listeners.iter().position(|l| l.handle == handle) else {
            return Err(Status::exception(Exception::IllegalArgument, "not a listener"));
        };
        self.listeners.remove(i);
        // The reference kept for it, and the one this call's Parcel brought (the host
        // releases a call's handles after it unless acquired).
        self.pending.push(Pending::Release(handle));
        Ok(())
    }
}
