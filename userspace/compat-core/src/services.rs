//! The services compat hosts itself, as one [`Host`]: each a node of compat's, registered
//! with the ServiceManager under its name.

use crate::driver::{Driver, Payload, Transaction};
use crate::weather::{WeatherService, LISTENER_COOKIE};
use crate::Host;
use binder::{Parcel, StatusCode};
use legacy_aidl::i_weather_service;

/// Compat's node for `com.example.weather.IWeatherService`, and its name.
pub const WEATHER_PTR: u64 = 0x1000;
pub const WEATHER_NAME: &str = "weather";

pub struct Services {
    pub weather: WeatherService,
}

impl Services {
    /// The interfaces compat routes: name, route, backend calls per route ([legacy, native]).
    pub fn routes(&self) -> [(&'static str, crate::weather::Route, [u64; 2]); 1] {
        [(WEATHER_NAME, self.weather.route, self.weather.served)]
    }
}

impl Host for Services {
    fn descriptor(&self, ptr: u64) -> Option<&str> {
        (ptr == WEATHER_PTR).then_some(i_weather_service::DESCRIPTOR)
    }

    fn transact(&mut self, d: &mut Driver, t: &Transaction) -> Result<Payload, StatusCode> {
        let mut data =
            Parcel::from_parts(&t.payload.data, &t.payload.offsets, t.android).ok_or(StatusCode::BadValue)?;
        let mut reply = Parcel::for_android(t.android);
        match t.ptr {
            WEATHER_PTR => self.weather.transact(d, t.code, &mut data, &mut reply)?,
            _ => return Err(StatusCode::DeadObject),
        }
        Ok(Payload { data: reply.data().to_vec(), offsets: reply.objects().to_vec() })
    }

    fn binder_died(&mut self, d: &mut Driver, cookie: u64) {
        if cookie & LISTENER_COOKIE != 0 {
            self.weather.listener_died(d, cookie);
        }
    }
}
