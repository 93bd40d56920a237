//! The client side of the weather server (`ipc::proto::weather`): `weather::current(ep,
//! "Oslo")` rather than packed words. Every call here may run twice ([`retry_once`]): a
//! subscription repeated replaces the first, an unsubscribe repeated says `NotSubscribed`.

use crate::long;
use ipc::cap::Slot;
use ipc::proto::weather::{self as proto, City, Current, Forecast, Request, WeatherError};

pub use crate::retry_once;

/// Why a weather call failed.
pub type Failed = crate::Failed<WeatherError>;

fn call(weather: Slot, request: Request) -> Result<ipc::proto::Long, Failed> {
    // A name longer than any city's is no city.
    let m = request.encode().ok_or(Failed::Server(WeatherError::UnknownCity))?;
    long::call(weather, &m).map_err(Failed::Kernel)
}

/// The conditions in `city` now.
pub fn current(weather: Slot, city: &str) -> Result<Current, Failed> {
    proto::read_current(&call(weather, Request::Current(city))?).map_err(Failed::Server)
}

/// The forecast for `city`, `days` days from tomorrow on.
pub fn forecast(weather: Slot, city: &str, days: u64) -> Result<Forecast, Failed> {
    proto::read_forecast(&call(weather, Request::Forecast(city, days))?).map_err(Failed::Server)
}

/// Has the notification in slot `notification` signalled whenever `city`'s conditions
/// change (until the server restarts: then subscribe again).
pub fn subscribe(weather: Slot, city: &str, notification: Slot) -> Result<(), Failed> {
    crate::cap::set_send_cap(0, notification);
    proto::read_done(&call(weather, Request::Subscribe(city))?).map_err(Failed::Server)
}

pub fn unsubscribe(weather: Slot, city: &str) -> Result<(), Failed> {
    proto::read_done(&call(weather, Request::Unsubscribe(city))?).map_err(Failed::Server)
}

/// The `index`th city the server knows; None past the last.
pub fn city(weather: Slot, index: u64) -> Result<Option<City>, Failed> {
    proto::read_city_reply(&call(weather, Request::City(index))?).map_err(Failed::Server)
}
