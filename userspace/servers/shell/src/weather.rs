//! `weather [CITY [DAYS] | watch CITY]`: the weather service from the shell. Without a city
//! it lists the cities the service knows; with one, the conditions there now and, with
//! DAYS, the forecast.

use crate::Shell;
use alloc::format;
use alloc::string::String;
use ipc::cap::Kind;
use ipc::proto::weather::Tenths;
use rt::weather::{self as client, retry_once};
use rt::{cap, ipc, println, sys};

const USAGE: &str = "usage: weather [CITY [DAYS] | watch CITY]";

pub fn run(shell: &Shell, args: &[&str]) -> Result<(), String> {
    let service = shell.weather.ok_or("this shell is not given the weather service")?;
    let failed = |e: client::Failed| format!("{e}");
    match args {
        [] => {
            let mut index = 0;
            while let Some(city) = retry_once(|| client::city(service, index)).map_err(failed)? {
                println!("  {}", city.as_str());
                index += 1;
            }
        }
        ["watch", city] => {
            let notification = cap::create(Kind::Notification, 0).map_err(|e| format!("{e}"))?;
            let subscribed = retry_once(|| client::subscribe(service, city, notification)).map_err(failed);
            if subscribed.is_ok() {
                println!("waiting for the weather in {city} to change...");
                let _ = sys::ntfn_wait(notification);
                let _ = client::unsubscribe(service, city);
                println!("the weather in {city} changed");
            }
            cap::release(notification);
            subscribed?;
        }
        [city] | [city, _] => {
            let days = match args.get(1) {
                Some(d) => d.parse().map_err(|_| String::from(USAGE))?,
                None => 0,
            };
            // Both answers first, so a refused forecast prints only why.
            let now = retry_once(|| client::current(service, city)).map_err(failed)?;
            let forecast = match days {
                0 => None,
                days => Some(retry_once(|| client::forecast(service, city, days)).map_err(failed)?),
            };
            let (deg, speed) = (now.units.degree(), now.units.speed());
            println!(
                "{}: {} {deg}, {}, humidity {}%, wind {} {speed} (hour {}, {} ms old)",
                now.city.as_str(),
                Tenths(now.temperature),
                now.sky.text(),
                now.humidity,
                Tenths(now.wind),
                now.slot,
                now.age_micros / 1000,
            );
            if let Some(forecast) = forecast {
                for (i, d) in forecast.days().iter().enumerate() {
                    println!(
                        "  day {}: high {} {deg}, low {} {deg}, {}",
                        forecast.first_day + i as u64,
                        Tenths(d.high),
                        Tenths(d.low),
                        d.sky.text()
                    );
                }
            }
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
