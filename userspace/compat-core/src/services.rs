//! The services compat hosts itself, as one [`Host`]: each a node of compat's, registered
//! with the ServiceManager under its name.

use crate::driver::{Driver, Payload, Transaction};
use crate::gallery::GalleryService;
use crate::routes::Route;
use crate::weather::{WeatherService, LISTENER_COOKIE};
use crate::Host;
use binder::{Parcel, StatusCode};
use legacy_aidl::{i_gallery_service, i_weather_service};

/// Compat's nodes for `com.example.weather.IWeatherService` and
/// `com.example.gallery.IGalleryService`, and the names they are registered under.
pub const WEATHER_PTR: u64 = 0x1000;
pub const WEATHER_NAME: &str = "weather";
pub const GALLERY_PTR: u64 = 0x1001;
pub const GALLERY_NAME: &str = "gallery";

/// Compat's services: (name, node) of each, for registering them.
pub const ALL: [(&str, u64); 2] = [(WEATHER_NAME, WEATHER_PTR), (GALLERY_NAME, GALLERY_PTR)];

pub struct Services {
    pub weather: WeatherService,
    pub gallery: GalleryService,
}

impl Services {
    /// The interfaces compat routes: name, route, backend calls per route ([legacy, native]).
    pub fn routes(&self) -> [(&'static str, Route, [u64; 2]); 2] {
        [
            (WEATHER_NAME, self.weather.routing.route, self.weather.routing.served),
            (GALLERY_NAME, self.gallery.routing.route, self.gallery.routing.served),
        ]
    }
}

impl Host for Services {
    fn descriptor(&self, ptr: u64) -> Option<&str> {
        match ptr {
            WEATHER_PTR => Some(i_weather_service::DESCRIPTOR),
            GALLERY_PTR => Some(i_gallery_service::DESCRIPTOR),
            _ => None,
        }
    }

    fn transact(&mut self, d: &mut Driver, t: &Transaction, data: &mut Parcel) -> Result<Payload, StatusCode> {
        let mut reply = Parcel::for_android(t.android);
        match t.ptr {
            WEATHER_PTR => self.weather.transact(d, t.code, data, &mut reply)?,
            GALLERY_PTR => self.gallery.transact(t.code, data, &mut reply)?,
            _ => return Err(StatusCode::DeadObject),
        }
        Ok(Payload::from(reply))
    }

    fn binder_died(&mut self, d: &mut Driver, cookie: u64) {
        if cookie & LISTENER_COOKIE != 0 {
            self.weather.listener_died(d, cookie);
        }
    }
}
