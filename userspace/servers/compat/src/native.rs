//! The native backends: compat's calls to Seam's own servers, for the interfaces routed to
//! them.

use compat_core::weather::{Failure, WeatherBackend};
use ipc::cap::Slot;
use ipc::proto::weather::{City, Current, Forecast};
use rt::{ipc, Failed};

/// The weather server (`ipc::proto::weather`), through the endpoint compat was given. A
/// server that died with the call is `Gone`; init restarts it on the same endpoint, so the
/// next call reaches the new one.
pub struct NativeWeather {
    pub endpoint: Option<Slot>,
}

fn failure(e: Failed<ipc::proto::weather::WeatherError>) -> Failure {
    match e {
        Failed::Server(e) => Failure::Refused(e),
        Failed::Kernel(_) => Failure::Gone,
    }
}

impl NativeWeather {
    fn endpoint(&self) -> Result<Slot, Failure> {
        self.endpoint.ok_or(Failure::Gone)
    }
}

impl WeatherBackend for NativeWeather {
    fn current(&mut self, city: &str) -> Result<Current, Failure> {
        rt::weather::current(self.endpoint()?, city).map_err(failure)
    }

    fn forecast(&mut self, city: &str, days: u64) -> Result<Forecast, Failure> {
        rt::weather::forecast(self.endpoint()?, city, days).map_err(failure)
    }

    fn city(&mut self, index: u64) -> Result<Option<City>, Failure> {
        rt::weather::city(self.endpoint()?, index).map_err(failure)
    }
}
