//! The native backends: compat's calls to Seam's own servers, for the interfaces routed to
//! them.

use alloc::string::String;
use alloc::vec::Vec;
use compat_core::gallery::{Failure as GalleryFailure, GalleryBackend, Meta};
use compat_core::weather::{Failure, WeatherBackend};
use ipc::cap::Slot;
use ipc::proto::gallery::{GalleryError, PAGE_MAX};
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

/// The gallery server (`ipc::proto::gallery`), with a Frame of compat's for the thumbnails.
pub struct NativeGallery {
    pub endpoint: Option<Slot>,
    pub frame: Option<rt::gallery::ThumbFrame>,
}

fn gallery_failure(e: Failed<GalleryError>) -> GalleryFailure {
    match e {
        Failed::Server(e) => GalleryFailure::Refused(e),
        Failed::Kernel(_) => GalleryFailure::Gone,
    }
}

impl NativeGallery {
    fn endpoint(&self) -> Result<Slot, GalleryFailure> {
        self.endpoint.ok_or(GalleryFailure::Gone)
    }
}

impl GalleryBackend for NativeGallery {
    fn create(&mut self, album: &str) -> Result<(), GalleryFailure> {
        rt::gallery::create(self.endpoint()?, album).map(drop).map_err(gallery_failure)
    }

    fn delete(&mut self, album: &str) -> Result<(), GalleryFailure> {
        rt::gallery::delete(self.endpoint()?, album).map_err(gallery_failure)
    }

    fn albums(&mut self) -> Result<Vec<String>, GalleryFailure> {
        let g = self.endpoint()?;
        let mut names = Vec::new();
        while let Some(a) = rt::gallery::album(g, names.len() as u64).map_err(gallery_failure)? {
            names.push(String::from(a.name.as_str()));
        }
        Ok(names)
    }

    fn add(&mut self, album: &str, photo: &Meta, thumb: &[u8]) -> Result<u32, GalleryFailure> {
        let g = self.endpoint()?;
        let frame = self.frame.as_mut().ok_or(GalleryFailure::Refused(GalleryError::NoCapability))?;
        let len = frame.write(thumb);
        rt::gallery::add(g, album, &photo.name, photo.time, photo.size, frame.slot, len).map_err(gallery_failure)
    }

    fn photos(&mut self, album: &str) -> Result<Vec<(u32, Meta)>, GalleryFailure> {
        let g = self.endpoint()?;
        let mut out = Vec::new();
        loop {
            let page = rt::gallery::list(g, album, out.len() as u64, PAGE_MAX as u64).map_err(gallery_failure)?;
            let before = out.len();
            for p in page.photos() {
                out.push((p.id, Meta { name: String::from(p.name.as_str()), time: p.time, size: p.size }));
            }
            if out.len() as u64 >= page.total || out.len() == before {
                return Ok(out);
            }
        }
    }

    fn thumb(&mut self, id: u32) -> Result<Vec<u8>, GalleryFailure> {
        let g = self.endpoint()?;
        let frame = self.frame.as_mut().ok_or(GalleryFailure::Refused(GalleryError::NoCapability))?;
        let len = rt::gallery::thumb(g, id, frame.slot).map_err(gallery_failure)?;
        Ok(frame.read(len).to_vec())
    }

    fn remove(&mut self, id: u32) -> Result<(), GalleryFailure> {
        rt::gallery::remove(self.endpoint()?, id).map_err(gallery_failure)
    }
}
