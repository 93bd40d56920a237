//! The weather server's data: there is no network, so its "provider" is this model. A fixed
//! table of cities, and for each a seeded, time-varying model of its weather: the same city
//! at the same moment always gives the same answer, on every run and on the host, so tests
//! can predict every answer exactly.
//!
//! Time is counted in slots of [`SLOT_MICROS`] of the system's uptime. A slot is one model
//! hour: the temperature follows a daily cycle of [`SLOTS_PER_DAY`] slots around the city's
//! mean, with seeded noise; the sky, humidity and wind are drawn from the city's seed and the
//! slot. A forecast day is a block of [`SLOTS_PER_DAY`] slots, with its high, low and sky
//! drawn from the seed and the day.
//!
//! Values are integers: tenths of a degree Celsius and of a km/h (metric), or of a degree
//! Fahrenheit and of a mph (imperial), so they compare exactly.
#![no_std]
#![forbid(unsafe_code)]

/// How long one model hour lasts, in microseconds of uptime.
pub const SLOT_MICROS: u64 = 2_000_000;
/// Model hours in a model day.
pub const SLOTS_PER_DAY: u64 = 24;
/// The longest forecast.
pub const FORECAST_DAYS_MAX: u64 = 7;

/// A city of the table: its mean temperature and daily swing (tenths of °C), its mean
/// humidity (%), and the seed of its weather.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct City {
    pub name: &'static str,
    pub mean: i64,
    pub swing: i64,
    pub humidity: i64,
    pub seed: u64,
}

/// The cities the provider knows, in the order `CITIES` lists them.
pub const CITIES: &[City] = &[
    City { name: "Oslo", mean: 62, swing: 45, humidity: 72, seed: 0x4f73_6c6f },
    City { name: "Bergen", mean: 85, swing: 30, humidity: 86, seed: 0x4265_7267 },
    City { name: "Stockholm", mean: 78, swing: 50, humidity: 70, seed: 0x5374_6f63 },
    City { name: "Helsinki", mean: 60, swing: 48, humidity: 75, seed: 0x4865_6c73 },
    City { name: "Berlin", mean: 105, swing: 60, humidity: 66, seed: 0x4265_726c },
    City { name: "Paris", mean: 125, swing: 55, humidity: 68, seed: 0x5061_7269 },
    City { name: "Madrid", mean: 160, swing: 80, humidity: 45, seed: 0x4d61_6472 },
    City { name: "Cairo", mean: 225, swing: 70, humidity: 40, seed: 0x4361_6972 },
    City { name: "Nairobi", mean: 190, swing: 60, humidity: 60, seed: 0x4e61_6972 },
    City { name: "Tokyo", mean: 160, swing: 45, humidity: 65, seed: 0x546f_6b79 },
    City { name: "Sydney", mean: 180, swing: 50, humidity: 64, seed: 0x5379_646e },
    City { name: "Reykjavik", mean: 45, swing: 25, humidity: 78, seed: 0x5265_796b },
];

/// The city named `name`, ignoring ASCII case.
pub fn city(name: &str) -> Option<(usize, &'static City)> {
    CITIES.iter().enumerate().find(|(_, c)| c.name.eq_ignore_ascii_case(name))
}

pub use ipc::proto::weather::{Sky, Units};

/// A temperature in tenths of °C, in `units` (rounded to the nearest tenth).
pub fn temperature(units: Units, tenths_c: i64) -> i64 {
    match units {
        Units::Metric => tenths_c,
        Units::Imperial => div_round(tenths_c * 9, 5) + 320,
    }
}

/// A speed in tenths of km/h, in `units`.
pub fn speed(units: Units, tenths_kmh: i64) -> i64 {
    match units {
        Units::Metric => tenths_kmh,
        Units::Imperial => div_round(tenths_kmh * 621_371, 1_000_000),
    }
}

/// `n / d` rounded to the nearest, halves away from zero (`d` > 0).
fn div_round(n: i64, d: i64) -> i64 {
    if n >= 0 {
        (n + d / 2) / d
    } else {
        -((-n + d / 2) / d)
    }
}

/// The conditions in a city during one slot, in metric tenths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conditions {
    pub temperature: i64,
    pub sky: Sky,
    pub humidity: i64,
    pub wind: i64,
}

impl Conditions {
    /// These conditions with temperature and wind in `units`.
    pub fn in_units(self, units: Units) -> Conditions {
        Conditions { temperature: temperature(units, self.temperature), wind: speed(units, self.wind), ..self }
    }
}

/// One day of a forecast, in metric tenths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub high: i64,
    pub low: i64,
    pub sky: Sky,
}

impl Day {
    pub fn in_units(self, units: Units) -> Day {
        Day { high: temperature(units, self.high), low: temperature(units, self.low), ..self }
    }
}

/// SplitMix64: a well-mixed 64-bit value of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A draw in `-spread..=spread` from `seed`.
fn noise(seed: u64, spread: i64) -> i64 {
    (mix(seed) % (2 * spread as u64 + 1)) as i64 - spread
}

/// The slot of a moment of uptime.
pub fn slot_at(micros: u64) -> u64 {
    micros / SLOT_MICROS
}

/// The sky for a temperature and humidity and a draw in 0..100.
fn sky(temperature: i64, humidity: i64, draw: i64) -> Sky {
    match (humidity + draw / 4, draw) {
        (h, _) if h >= 95 && temperature <= 20 => Sky::Snow,
        (h, _) if h >= 95 => Sky::Rain,
        (h, d) if h >= 88 && d < 30 => Sky::Fog,
        (h, _) if h >= 80 => Sky::Cloudy,
        (h, _) if h >= 65 => Sky::PartlyCloudy,
        _ => Sky::Clear,
    }
}

/// A triangle wave over the day: -swing at the slot before dawn, +swing mid-afternoon.
fn daily(swing: i64, slot: u64) -> i64 {
    let hour = ((slot + 21) % SLOTS_PER_DAY) as i64; // 0 at 03:00, 12 at 15:00
    let up = if hour <= 12 { hour } else { 24 - hour };
    -swing + 2 * swing * up / 12
}

/// The conditions in `city` during `slot`.
pub fn conditions(city: &City, slot: u64) -> Conditions {
    let seed = city.seed ^ slot.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let temperature = city.mean + daily(city.swing, slot) + noise(seed, 15);
    let humidity = (city.humidity + noise(seed ^ 1, 12)).clamp(5, 100);
    let draw = (mix(seed ^ 2) % 100) as i64;
    let wind = 20 + (mix(seed ^ 3) % 300) as i64;
    Conditions { temperature, sky: sky(temperature, humidity, draw), humidity, wind }
}

/// The model day a slot falls in.
pub fn day_of(slot: u64) -> u64 {
    slot / SLOTS_PER_DAY
}

/// The forecast for `city` for model day `day`.
pub fn forecast(city: &City, day: u64) -> Day {
    let seed = city.seed ^ day.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xf0f0;
    let mean = city.mean + noise(seed, 30);
    let high = mean + city.swing + noise(seed ^ 1, 10);
    let low = mean - city.swing + noise(seed ^ 2, 10);
    let humidity = (city.humidity + noise(seed ^ 3, 12)).clamp(5, 100);
    Day { high, low, sky: sky(mean, humidity, (mix(seed ^ 4) % 100) as i64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cities_are_found_by_name_in_any_case() {
        assert_eq!(city("oslo").map(|(i, c)| (i, c.name)), Some((0, "Oslo")));
        assert_eq!(city("REYKJAVIK").map(|(_, c)| c.name), Some("Reykjavik"));
        assert_eq!(city("Atlantis"), None);
        assert_eq!(city(""), None);
        for (i, c) in CITIES.iter().enumerate() {
            assert_eq!(city(c.name).map(|(j, _)| j), Some(i), "names are unique");
            assert!(c.name.len() <= 16);
        }
    }

    #[test]
    fn the_model_is_deterministic_and_varies_over_time() {
        let oslo = &CITIES[0];
        assert_eq!(conditions(oslo, 1234), conditions(oslo, 1234));
        let changes = (0..100).filter(|&s| conditions(oslo, s) != conditions(oslo, s + 1)).count();
        assert!(changes > 90, "conditions change from slot to slot ({changes})");
        // Pinned values: a change to the model is a change to every answer tests predict.
        assert_eq!(conditions(oslo, 0), Conditions { temperature: 32, sky: Sky::Cloudy, humidity: 67, wind: 134 });
        assert_eq!(forecast(oslo, 0), Day { high: 87, low: -7, sky: Sky::PartlyCloudy });
        let skies: usize = Sky::ALL
            .iter()
            .filter(|&&s| CITIES.iter().any(|c| (0..500).any(|slot| conditions(c, slot).sky == s)))
            .count();
        assert_eq!(skies, Sky::ALL.len(), "every sky happens somewhere");
    }

    #[test]
    fn values_stay_plausible() {
        for c in CITIES {
            for slot in 0..2000 {
                let w = conditions(c, slot);
                assert!((c.mean - c.swing - 15..=c.mean + c.swing + 15).contains(&w.temperature));
                assert!((5..=100).contains(&w.humidity));
                assert!((20..320).contains(&w.wind));
            }
            for day in 0..100 {
                let d = forecast(c, day);
                assert!(d.low < d.high, "{} day {day}: {d:?}", c.name);
            }
        }
    }

    #[test]
    fn the_daily_cycle_peaks_in_the_afternoon() {
        assert_eq!(daily(50, 15), 50, "15:00");
        assert_eq!(daily(50, 3), -50, "03:00");
        assert_eq!(daily(50, 9), 0, "09:00");
    }

    #[test]
    fn units_convert_exactly() {
        assert_eq!(temperature(Units::Imperial, 0), 320);
        assert_eq!(temperature(Units::Imperial, 1000), 2120);
        assert_eq!(temperature(Units::Imperial, -400), -400);
        assert_eq!(temperature(Units::Imperial, -1), 318, "-0.1 C is 31.8 F");
        assert_eq!(speed(Units::Imperial, 1000), 621);
        assert_eq!(temperature(Units::Metric, -57), -57);
        assert_eq!(Units::named("metric"), Some(Units::Metric));
        assert_eq!(Units::named("kelvin"), None);
        for u in [Units::Metric, Units::Imperial] {
            assert_eq!(Units::named(u.name()), Some(u));
        }
    }

    #[test]
    fn slots_and_days() {
        assert_eq!(slot_at(0), 0);
        assert_eq!(slot_at(SLOT_MICROS - 1), 0);
        assert_eq!(slot_at(SLOT_MICROS), 1);
        assert_eq!(day_of(SLOTS_PER_DAY - 1), 0);
        assert_eq!(day_of(SLOTS_PER_DAY), 1);
    }
}
