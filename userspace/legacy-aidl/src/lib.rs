//! The interfaces legacy apps were written against, generated from the `.aidl` files under
//! `aidl/` by `aidl-gen` at build time: `com.example.weather` (`IWeatherService`, its
//! parcelables `Conditions` and `DayForecast`, the oneway `IWeatherListener`) and
//! `com.example.gallery` (`IGalleryService`, `PhotoInfo`). A legacy app calls through each
//! interface's `Proxy`; a service implements its trait and answers through `on_transact`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

/// What aidl-gen made (generated code is not held to clippy's style).
#[allow(clippy::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}

pub use generated::*;

#[cfg(test)]
mod tests;
