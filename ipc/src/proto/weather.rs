//! The weather server's protocol: current conditions and forecasts for a city, and
//! subscriptions to a city's changes. Requests and answers are [`Long`] messages.
//!
//! | request | words | capability | answer |
//! |---|---|---|---|
//! | [`CURRENT`] | city | — | [`Current`] |
//! | [`FORECAST`] | city, days (1 to [`FORECAST_DAYS_MAX`]) | — | [`Forecast`] |
//! | [`SUBSCRIBE`] | city | a notification | — (signalled whenever the city's conditions change) |
//! | [`UNSUBSCRIBE`] | city | — | — |
//! | [`CITY`] | index | — | the `index`th city's name |
//!
//! Temperatures and speeds are integers in tenths, in the units the settings key
//! [`UNITS_KEY`] names when the server answers; the answer says which. A subscription is the
//! caller's (by badge) for that city: subscribing again replaces its notification.

use super::{Long, Reader, OK};

pub const CURRENT: u32 = 1;
pub const FORECAST: u32 = 2;
pub const SUBSCRIBE: u32 = 3;
pub const UNSUBSCRIBE: u32 = 4;
pub const CITY: u32 = 5;

/// The longest city name.
pub const CITY_MAX: usize = 16;
/// The longest forecast, in days.
pub const FORECAST_DAYS_MAX: usize = 7;
/// The settings key whose value ("metric" or "imperial") picks the units.
pub const UNITS_KEY: &str = "weather.units";

errors! {
    /// What the weather server refuses a request with: the label of its reply.
    WeatherError {
        /// No city of that name (or, for `CITY`, the index is past the last).
        UnknownCity = 1: "unknown city",
        /// A forecast of 0 days, or of more than [`FORECAST_DAYS_MAX`].
        BadDays = 2: "days must be 1 to 7",
        BadRequest = 3: "bad request",
        /// A subscription came without its notification.
        NoCapability = 4: "no capability given",
        /// No room for another subscription.
        Full = 5: "too many subscriptions",
        /// `UNSUBSCRIBE` of a city the caller has not subscribed to.
        NotSubscribed = 6: "not subscribed",
        /// The caller is not a program of the system.
        Denied = 7: "not allowed",
    }
}

/// The sky.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Sky {
    Clear = 0,
    PartlyCloudy = 1,
    Cloudy = 2,
    Rain = 3,
    Snow = 4,
    Fog = 5,
}

impl Sky {
    pub const ALL: [Sky; 6] = [Sky::Clear, Sky::PartlyCloudy, Sky::Cloudy, Sky::Rain, Sky::Snow, Sky::Fog];

    pub fn from_code(code: u64) -> Option<Sky> {
        Sky::ALL.get(usize::try_from(code).ok()?).copied()
    }

    pub fn text(self) -> &'static str {
        match self {
            Sky::Clear => "clear",
            Sky::PartlyCloudy => "partly cloudy",
            Sky::Cloudy => "cloudy",
            Sky::Rain => "rain",
            Sky::Snow => "snow",
            Sky::Fog => "fog",
        }
    }
}

/// How temperatures and speeds are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    /// Tenths of °C, tenths of km/h.
    Metric = 0,
    /// Tenths of °F, tenths of mph.
    Imperial = 1,
}

impl Units {
    /// The units a value of [`UNITS_KEY`] names.
    pub fn named(name: &str) -> Option<Units> {
        match name {
            "metric" => Some(Units::Metric),
            "imperial" => Some(Units::Imperial),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Units::Metric => "metric",
            Units::Imperial => "imperial",
        }
    }

    fn from_code(code: u64) -> Option<Units> {
        match code {
            0 => Some(Units::Metric),
            1 => Some(Units::Imperial),
            _ => None,
        }
    }

    pub fn degree(self) -> &'static str {
        match self {
            Units::Metric => "C",
            Units::Imperial => "F",
        }
    }

    pub fn speed(self) -> &'static str {
        match self {
            Units::Metric => "km/h",
            Units::Imperial => "mph",
        }
    }
}

/// A value in tenths (a temperature, a speed), written as a decimal: -7 is "-0.7".
pub struct Tenths(pub i64);

impl core::fmt::Display for Tenths {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{}", self.0.unsigned_abs() / 10, self.0.unsigned_abs() % 10)
    }
}

/// A city's name as an answer carries it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct City {
    bytes: [u8; CITY_MAX],
    len: u8,
}

impl City {
    pub fn new(name: &str) -> Option<City> {
        if name.is_empty() || name.len() > CITY_MAX {
            return None;
        }
        let mut bytes = [0; CITY_MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(City { bytes, len: name.len() as u8 })
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl core::fmt::Debug for City {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// The conditions in a city, as the server answers `CURRENT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Current {
    pub city: City,
    /// The model hour they are for (see the server).
    pub slot: u64,
    pub temperature: i64,
    pub sky: Sky,
    /// Relative humidity, in percent.
    pub humidity: i64,
    pub wind: i64,
    pub units: Units,
    /// How long ago the server's provider produced them (its cache's age), in microseconds.
    pub age_micros: u64,
}

/// One day of a forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub high: i64,
    pub low: i64,
    pub sky: Sky,
}

/// A forecast, as the server answers `FORECAST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forecast {
    pub city: City,
    /// The model day of `days[0]` (tomorrow's, from the server's clock).
    pub first_day: u64,
    pub units: Units,
    pub days: [Day; FORECAST_DAYS_MAX],
    pub len: usize,
}

impl Forecast {
    pub fn days(&self) -> &[Day] {
        &self.days[..self.len]
    }
}

/// A request, as the server reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Current(&'a str),
    Forecast(&'a str, u64),
    Subscribe(&'a str),
    Unsubscribe(&'a str),
    City(u64),
}

impl Request<'_> {
    /// The message; None if a city name is longer than [`CITY_MAX`].
    pub fn encode(&self) -> Option<Long> {
        let mut m = Long::new(match self {
            Request::Current(_) => CURRENT,
            Request::Forecast(..) => FORECAST,
            Request::Subscribe(_) => SUBSCRIBE,
            Request::Unsubscribe(_) => UNSUBSCRIBE,
            Request::City(_) => CITY,
        });
        let name = |m: &mut Long, city: &str| city.len() <= CITY_MAX && m.push_bytes(city.as_bytes());
        let ok = match *self {
            Request::Current(city) | Request::Unsubscribe(city) => name(&mut m, city),
            Request::Forecast(city, days) => name(&mut m, city) && m.push(days),
            Request::Subscribe(city) => {
                m.caps = 1;
                name(&mut m, city)
            }
            Request::City(index) => m.push(index),
        };
        ok.then_some(m)
    }
}

fn read_city<'b>(r: &mut Reader, out: &'b mut [u8; CITY_MAX]) -> Result<&'b str, WeatherError> {
    // A name too long for any city is not a city; bytes that are not text are a bad request.
    if r.peek().is_some_and(|len| len > CITY_MAX as u64) {
        return Err(WeatherError::UnknownCity);
    }
    r.text(CITY_MAX, out).ok_or(WeatherError::BadRequest)
}

/// Reads a request; a city name is copied into `buf`.
pub fn decode<'b>(m: &Long, buf: &'b mut [u8; CITY_MAX]) -> Result<Request<'b>, WeatherError> {
    let mut r = m.reader(0);
    match m.label {
        CURRENT => Ok(Request::Current(read_city(&mut r, buf)?)),
        UNSUBSCRIBE => Ok(Request::Unsubscribe(read_city(&mut r, buf)?)),
        FORECAST => {
            let city = read_city(&mut r, buf)?;
            let days = r.word().ok_or(WeatherError::BadRequest)?;
            if days == 0 || days > FORECAST_DAYS_MAX as u64 {
                return Err(WeatherError::BadDays);
            }
            Ok(Request::Forecast(city, days))
        }
        SUBSCRIBE if m.caps == 1 => Ok(Request::Subscribe(read_city(&mut r, buf)?)),
        SUBSCRIBE => Err(WeatherError::NoCapability),
        CITY => Ok(Request::City(r.word().ok_or(WeatherError::BadRequest)?)),
        _ => Err(WeatherError::BadRequest),
    }
}

/// A reply refusing a request.
pub fn refuse(e: WeatherError) -> Long {
    Long::new(e.code())
}

/// The reply to `SUBSCRIBE` and `UNSUBSCRIBE`.
pub fn done() -> Long {
    Long::new(OK)
}

/// What a reply says: done, or the refusal.
pub fn read_done(m: &Long) -> Result<(), WeatherError> {
    match m.label {
        OK => Ok(()),
        code => Err(WeatherError::from_code(code).unwrap_or(WeatherError::BadRequest)),
    }
}

/// The reply to `CURRENT`.
pub fn current(c: &Current) -> Long {
    let mut m = Long::new(OK);
    for w in [c.slot, c.temperature as u64, c.sky as u64, c.humidity as u64, c.wind as u64, c.units as u64] {
        m.push(w);
    }
    m.push(c.age_micros);
    m.push_bytes(c.city.as_str().as_bytes());
    m
}

fn read_name(r: &mut Reader) -> Result<City, WeatherError> {
    let mut buf = [0u8; CITY_MAX];
    let name = r.text(CITY_MAX, &mut buf).ok_or(WeatherError::BadRequest)?;
    City::new(name).ok_or(WeatherError::BadRequest)
}

fn field<T>(v: Option<T>) -> Result<T, WeatherError> {
    v.ok_or(WeatherError::BadRequest)
}

/// The conditions a reply to `CURRENT` carries.
pub fn read_current(m: &Long) -> Result<Current, WeatherError> {
    read_done(m)?;
    let mut r = m.reader(0);
    let slot = field(r.word())?;
    let temperature = field(r.word())? as i64;
    let sky = field(r.word().and_then(Sky::from_code))?;
    let humidity = field(r.word())? as i64;
    let wind = field(r.word())? as i64;
    let units = field(r.word().and_then(Units::from_code))?;
    let age_micros = field(r.word())?;
    let city = read_name(&mut r)?;
    Ok(Current { city, slot, temperature, sky, humidity, wind, units, age_micros })
}

/// The reply to `FORECAST`.
pub fn forecast(f: &Forecast) -> Long {
    let mut m = Long::new(OK);
    m.push(f.first_day);
    m.push(f.units as u64);
    m.push(f.len as u64);
    for d in f.days() {
        m.push(d.high as u64);
        m.push(d.low as u64);
        m.push(d.sky as u64);
    }
    m.push_bytes(f.city.as_str().as_bytes());
    m
}

/// The forecast a reply to `FORECAST` carries.
pub fn read_forecast(m: &Long) -> Result<Forecast, WeatherError> {
    read_done(m)?;
    let mut r = m.reader(0);
    let first_day = field(r.word())?;
    let units = field(r.word().and_then(Units::from_code))?;
    let len = field(r.word().and_then(|n| usize::try_from(n).ok()).filter(|&n| n <= FORECAST_DAYS_MAX))?;
    let mut days = [Day { high: 0, low: 0, sky: Sky::Clear }; FORECAST_DAYS_MAX];
    for day in &mut days[..len] {
        let (high, low) = (field(r.word())? as i64, field(r.word())? as i64);
        *day = Day { high, low, sky: field(r.word().and_then(Sky::from_code))? };
    }
    Ok(Forecast { city: read_name(&mut r)?, first_day, units, days, len })
}

/// The reply to `CITY`.
pub fn city(name: &City) -> Long {
    let mut m = Long::new(OK);
    m.push_bytes(name.as_str().as_bytes());
    m
}

/// The name a reply to `CITY` carries; None past the last city.
pub fn read_city_reply(m: &Long) -> Result<Option<City>, WeatherError> {
    if m.label == WeatherError::UnknownCity.code() {
        return Ok(None);
    }
    read_done(m)?;
    read_name(&mut m.reader(0)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_read_as_decimals() {
        extern crate std;
        use std::string::ToString;
        for (v, text) in
            [(0, "0.0"), (7, "0.7"), (-7, "-0.7"), (-10, "-1.0"), (1234, "123.4"), (i64::MIN, "-922337203685477580.8")]
        {
            assert_eq!(Tenths(v).to_string(), text);
        }
    }

    #[test]
    fn requests_round_trip() {
        for r in [
            Request::Current("Oslo"),
            Request::Forecast("reykjavik", 7),
            Request::Subscribe("Tokyo"),
            Request::Unsubscribe("Cairo"),
            Request::City(3),
        ] {
            let mut buf = [0; CITY_MAX];
            assert_eq!(decode(&r.encode().unwrap(), &mut buf), Ok(r));
        }
        assert_eq!(Request::Current("a-city-name-longer-than-16").encode(), None);
    }

    #[test]
    fn answers_round_trip() {
        let c = Current {
            city: City::new("Oslo").unwrap(),
            slot: 1234,
            temperature: -57,
            sky: Sky::Snow,
            humidity: 91,
            wind: 123,
            units: Units::Imperial,
            age_micros: 1_500_000,
        };
        assert_eq!(read_current(&current(&c)), Ok(c));
        let day = |high, low, sky| Day { high, low, sky };
        let mut days = [day(0, 0, Sky::Clear); FORECAST_DAYS_MAX];
        days[..3].copy_from_slice(&[day(120, 40, Sky::Rain), day(-10, -90, Sky::Fog), day(300, 200, Sky::Clear)]);
        let f = Forecast { city: City::new("Reykjavik").unwrap(), first_day: 52, units: Units::Metric, days, len: 3 };
        assert_eq!(read_forecast(&forecast(&f)), Ok(f));
        assert_eq!(
            read_city_reply(&city(&City::new("Cairo").unwrap())).map(|c| c.map(|c| c.as_str().len())),
            Ok(Some(5))
        );
        assert_eq!(read_city_reply(&refuse(WeatherError::UnknownCity)), Ok(None));
        assert_eq!(read_done(&refuse(WeatherError::Full)), Err(WeatherError::Full));
        assert_eq!(read_current(&refuse(WeatherError::UnknownCity)), Err(WeatherError::UnknownCity));
    }

    #[test]
    fn bad_requests_and_answers_are_refused() {
        let mut buf = [0; CITY_MAX];
        let mut m = Long::new(FORECAST);
        m.push_bytes(b"Oslo");
        m.push(0);
        assert_eq!(decode(&m, &mut buf), Err(WeatherError::BadDays));
        let mut m = Request::Forecast("Oslo", 1).encode().unwrap();
        m.words[m.len - 1] = 8;
        assert_eq!(decode(&m, &mut buf), Err(WeatherError::BadDays));
        let mut m = Long::new(CURRENT);
        m.push_bytes(&[b'x'; 40]);
        assert_eq!(decode(&m, &mut buf), Err(WeatherError::UnknownCity), "longer than any city");
        let mut m = Long::new(CURRENT);
        m.push_bytes(&[0xff, 0xfe]);
        assert_eq!(decode(&m, &mut buf), Err(WeatherError::BadRequest), "not UTF-8");
        let mut m = Request::Subscribe("Oslo").encode().unwrap();
        m.caps = 0;
        assert_eq!(decode(&m, &mut buf), Err(WeatherError::NoCapability));
        assert_eq!(decode(&Long::new(CURRENT), &mut buf), Err(WeatherError::BadRequest), "no city");
        assert_eq!(decode(&Long::new(FORECAST + 40), &mut buf), Err(WeatherError::BadRequest));
        // An answer that lies about its sky, units or length is refused, not trusted.
        let mut bad = current(&Current {
            city: City::new("Oslo").unwrap(),
            slot: 0,
            temperature: 0,
            sky: Sky::Clear,
            humidity: 0,
            wind: 0,
            units: Units::Metric,
            age_micros: 0,
        });
        bad.words[2] = 99;
        assert_eq!(read_current(&bad), Err(WeatherError::BadRequest));
        let mut m = Long::new(OK);
        for w in [0, 0, 200] {
            m.push(w);
        }
        assert_eq!(read_forecast(&m), Err(WeatherError::BadRequest), "more days than a forecast has");
    }
}
