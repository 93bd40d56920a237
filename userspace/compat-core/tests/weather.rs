//! `IWeatherService` as compat hosts it, called by a legacy app through the generated proxy:
//! both routes answer the same bytes, errors are AIDL's, a dead native server is
//! `DEAD_OBJECT`, and listeners hear each change of their city once, whatever the route.

mod common;

use binder::client::Refused;
use binder::{Android, Exception, Parcel, Status, StatusCode};
use common::*;
use compat_core::gallery::{GalleryService, LegacyGallery};
use compat_core::services::{Services, WEATHER_NAME};
use compat_core::weather::{Failure, LegacyWeather, Route, WeatherBackend, WeatherService};
use ipc::proto::weather::{City, Current, Forecast, Units};
use legacy_aidl::i_weather_listener::{self, IWeatherListener};
use legacy_aidl::i_weather_service::{self, Proxy};
use legacy_aidl::Conditions;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use weather_model as model;

/// The model's clock of a test, in microseconds, as the test sets it.
type Clock = Arc<AtomicU64>;

fn clock_fn(clock: &Clock) -> Box<dyn Fn() -> u64 + Send> {
    let c = clock.clone();
    Box::new(move || c.load(Ordering::SeqCst))
}

/// The native server as the tests play it: the same model (as Seam's weather server
/// computes it), and a switch to make it gone.
struct FakeNative {
    model: LegacyWeather,
    gone: Arc<AtomicBool>,
}

impl WeatherBackend for FakeNative {
    fn current(&mut self, city: &str) -> Result<Current, Failure> {
        if self.gone.load(Ordering::SeqCst) {
            return Err(Failure::Gone);
        }
        // The native server says how old its answer is; the AIDL reply does not carry it.
        self.model.current(city).map(|c| Current { age_micros: 1234, ..c })
    }
    fn forecast(&mut self, city: &str, days: u64) -> Result<Forecast, Failure> {
        if self.gone.load(Ordering::SeqCst) {
            return Err(Failure::Gone);
        }
        self.model.forecast(city, days)
    }
    fn city(&mut self, index: u64) -> Result<Option<City>, Failure> {
        self.model.city(index)
    }
}

fn weather_world() -> (World, Arc<AtomicBool>, Clock) {
    let gone = Arc::new(AtomicBool::new(false));
    let clock = Arc::new(AtomicU64::new(10 * model::SLOT_MICROS));
    let native =
        FakeNative { model: LegacyWeather { units: Units::Metric, clock: clock_fn(&clock) }, gone: gone.clone() };
    let legacy = LegacyWeather { units: Units::Metric, clock: clock_fn(&clock) };
    let weather = WeatherService::new(legacy, Box::new(native), Route::Legacy);
    let gallery = GalleryService::new(Box::new(LegacyGallery::default()), Route::Legacy);
    (world_with(Some(Services { weather, gallery })), gone, clock)
}

fn set_route(w: &World, route: Route) {
    w.net().services.as_mut().unwrap().weather.routing.route = route;
}

fn weather_of(app: &Rc<binder::client::Process>) -> Proxy {
    Proxy(app.service_manager().get_service(WEATHER_NAME).unwrap().expect("compat registers it"))
}

/// What writes a call's arguments.
type Args = dyn Fn(&mut Parcel);

#[test]
fn both_routes_answer_the_same_bytes() {
    let (w, _, clock) = weather_world();
    let app = program(&w, 2, APP_UID, Android::V14);
    let weather = weather_of(&app);
    let raw = |code: u32, write: &dyn Fn(&mut Parcel)| {
        let mut data = app.parcel();
        data.write_interface_token(i_weather_service::DESCRIPTOR);
        write(&mut data);
        weather.0.transact(code, &data, 0).unwrap().data().to_vec()
    };
    let calls: [(u32, &Args); 4] = [
        (i_weather_service::GET_CURRENT, &|p| p.write_string16(Some("Oslo"))),
        (i_weather_service::GET_FORECAST, &|p| {
            p.write_string16(Some("Cairo"));
            p.write_i32(3)
        }),
        (i_weather_service::LIST_CITIES, &|_| {}),
        (i_weather_service::GET_CURRENT, &|p| p.write_string16(Some("Atlantis"))),
    ];
    let legacy: Vec<Vec<u8>> = calls.iter().map(|(c, w)| raw(*c, *w)).collect();
    set_route(&w, Route::Native);
    let native: Vec<Vec<u8>> = calls.iter().map(|(c, w)| raw(*c, *w)).collect();
    assert_eq!(legacy, native);
    let served = w.net().services.as_ref().unwrap().weather.routing.served;
    assert_eq!(served, [4 + 12, 4 + 12], "listCities asks city by city: 12 cities and the end");

    // What the proxy reads is the model's.
    let c = weather.get_current("oslo").unwrap();
    let slot = model::slot_at(clock.load(Ordering::SeqCst));
    let m = model::conditions(&model::CITIES[0], slot);
    let want = Conditions {
        city: "Oslo".into(),
        units: "metric".into(),
        hour: slot as i64,
        temperature_tenths: m.temperature as i32,
        sky: m.sky as i32,
        humidity_percent: m.humidity as i32,
        wind_tenths: m.wind as i32,
    };
    assert_eq!(c, want);
    assert_eq!(weather.list_cities().unwrap().len(), model::CITIES.len());
    assert_eq!(weather.get_forecast("Madrid", 7).unwrap().len(), 7);
}

#[test]
fn refusals_are_aidl_exceptions() {
    let (w, gone, _) = weather_world();
    let app = program(&w, 2, APP_UID, Android::V12);
    let weather = weather_of(&app);
    let illegal = |r: Result<_, Refused>| {
        matches!(r, Err(Refused::Exception(Status { exception: Exception::IllegalArgument, .. })))
    };
    assert!(illegal(weather.get_current("Atlantis").map(drop)));
    assert!(illegal(weather.get_forecast("Oslo", 0).map(drop)));
    assert!(illegal(weather.get_forecast("Oslo", 8).map(drop)));
    assert!(illegal(weather.get_forecast("Oslo", -1).map(drop)));
    // The native server dies: its calls answer DEAD_OBJECT; once it is back, they work.
    set_route(&w, Route::Native);
    gone.store(true, Ordering::SeqCst);
    assert_eq!(weather.get_current("Oslo"), Err(Refused::Transport(StatusCode::DeadObject)));
    gone.store(false, Ordering::SeqCst);
    assert!(weather.get_current("Oslo").is_ok());
}

/// An app's listener: what it heard.
#[derive(Default)]
struct Heard(Vec<Conditions>);

impl IWeatherListener for Heard {
    fn on_conditions_changed(&mut self, c: Conditions) -> Result<(), Status> {
        self.0.push(c);
        Ok(())
    }
}

type Listener = i_weather_listener::Local<Heard>;

/// Moves the clock on hour by hour until `city`'s conditions change; the new hour.
fn next_change(clock: &Clock, city: usize) -> u64 {
    let start = model::slot_at(clock.load(Ordering::SeqCst));
    let before = model::conditions(&model::CITIES[city], start);
    let mut slot = start + 1;
    while model::conditions(&model::CITIES[city], slot) == before {
        slot += 1;
    }
    clock.store(slot * model::SLOT_MICROS, Ordering::SeqCst);
    slot
}

#[test]
fn listeners_hear_each_change_once_whatever_the_route_and_go_with_their_app() {
    let (w, _, clock) = weather_world();
    let app = program(&w, 2, APP_UID, Android::V13);
    let weather = weather_of(&app);
    let listener = Rc::new(Listener::new(Heard::default()));
    let binder = app.add_local(listener.clone());
    weather.add_listener("Bergen", &binder).unwrap();
    let tick = |w: &World| {
        let mut net = w.net();
        let net = &mut *net;
        net.services.as_mut().unwrap().weather.tick(&mut net.compat.driver);
        net.settle();
    };
    // Nothing changed yet: nothing is said.
    tick(&w);
    app.poll().unwrap();
    assert!(listener.0.borrow().0.is_empty());
    for route in [Route::Legacy, Route::Native] {
        set_route(&w, route);
        let hour = next_change(&clock, 1);
        tick(&w);
        tick(&w);
        assert!(eventually(|| {
            app.poll().unwrap();
            listener.0.borrow().0.last().is_some_and(|c| c.hour == hour as i64)
        }));
    }
    assert_eq!(listener.0.borrow().0.len(), 2, "once per change");
    assert!(listener.0.borrow().0.iter().all(|c| c.city == "Bergen"));
    // Removed, it hears no more; added again, then its app dies: compat drops it.
    weather.remove_listener(&binder).unwrap();
    assert!(matches!(weather.remove_listener(&binder), Err(Refused::Exception(_))));
    weather.add_listener("Bergen", &binder).unwrap();
    assert_eq!(w.net().services.as_ref().unwrap().weather.listeners(), 1);
    let baseline_nodes = w.counts().0;
    w.kill(2);
    assert_eq!(w.net().services.as_ref().unwrap().weather.listeners(), 0);
    assert!(w.counts().0 < baseline_nodes, "the listener's node went with its app");
}

/// Not a check: the bench's `compat_transaction` call, many times over, for a profiler.
/// `valgrind --tool=callgrind` on this test (release build, `--ignored`) shows where the
/// instructions of a legacy call through compat go, apart from the kernel's IPC (see
/// `compat-core`'s crate docs for the figures).
#[test]
#[ignore]
fn profile_get_current() {
    let (w, _, _) = weather_world();
    let app = program(&w, 2, APP_UID, Android::V14);
    let weather = weather_of(&app);
    let calls: u32 = std::env::var("CALLS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    for _ in 0..calls {
        assert!(weather.get_current("Oslo").is_ok());
    }
}
