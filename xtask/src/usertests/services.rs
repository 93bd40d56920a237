//! Cases for the framework services at the default system's shell: weather and gallery.
//! Their answers are checked against what the services must say, not just their shape: the
//! weather model is deterministic, so every number the shell prints is predicted here from
//! `weather-model` and the hour the answer names.

use crate::converse::Step;
use ipc::proto::weather::Tenths;
use weather_model::{self as model, Units};

/// Types `line`, waits for `answer`, then for the next prompt.
fn command(line: &str, answer: &str) -> Vec<Step> {
    vec![Step::line(line), Step::expect(answer), Step::expect("seam> ")]
}

/// A session with the weather service: the cities, conditions and forecasts in both units,
/// refusals, the units followed through a settings restart, a weather restart, and a
/// subscription that fires.
pub fn weather_session() -> Vec<Step> {
    [
        vec![Step::expect("seam> ")],
        command("weather", "Reykjavik"),
        command("weather Oslo 3", "  day "),
        command("weather bergen", "Bergen: "),
        command("weather Atlantis", "weather: unknown city"),
        command("weather Oslo 9", "weather: days must be 1 to 7"),
        command("weather Oslo soon", "weather: usage: weather"),
        command(&"x".repeat(40), "unknown command"),
        command(&format!("weather {}", "x".repeat(40)), "weather: unknown city"),
        command("settings set weather.units imperial", "weather.units = \"imperial\""),
        command("weather Cairo 2", "  day "),
        command("kill settings", "settings: killed"),
        command("settings set weather.units metric", "weather.units = \"metric\""),
        command("weather Tokyo 1", "  day "),
        command("kill weather", "weather: killed"),
        command("weather Sydney", "Sydney: "),
        vec![
            Step::line("weather watch Helsinki"),
            Step::expect("the weather in Helsinki changed"),
            Step::expect("seam> "),
        ],
    ]
    .concat()
}

/// What one `weather CITY` line says.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    city: String,
    temperature: i64,
    units: Units,
    sky: String,
    humidity: i64,
    wind: i64,
    hour: u64,
}

/// "-0.7" as -7.
fn tenths(text: &str) -> Option<i64> {
    let (whole, tenth) = text.split_once('.')?;
    let (sign, whole) = match whole.strip_prefix('-') {
        Some(w) => (-1, w),
        None => (1, whole),
    };
    if tenth.len() != 1 {
        return None;
    }
    Some(sign * (whole.parse::<i64>().ok()? * 10 + tenth.parse::<i64>().ok()?))
}

/// Reads "Oslo: 3.2 C, cloudy, humidity 67%, wind 13.4 km/h (hour 1234, 0 ms old)".
fn report(line: &str) -> Option<Report> {
    let (city, rest) = line.split_once(": ")?;
    let (numbers, meta) = rest.split_once(" (hour ")?;
    let parts: Vec<&str> = numbers.split(", ").collect();
    let [temperature, sky, humidity, wind] = parts[..] else { return None };
    let (temperature, degree) = temperature.split_once(' ')?;
    let units = match degree {
        "C" => Units::Metric,
        "F" => Units::Imperial,
        _ => return None,
    };
    let (wind, speed) = wind.strip_prefix("wind ")?.split_once(' ')?;
    if speed != if units == Units::Metric { "km/h" } else { "mph" } {
        return None;
    }
    let hour = meta.split_once(',')?.0.parse().ok()?;
    Some(Report {
        city: city.to_string(),
        temperature: tenths(temperature)?,
        units,
        sky: sky.to_string(),
        humidity: humidity.strip_prefix("humidity ")?.strip_suffix('%')?.parse().ok()?,
        wind: tenths(wind)?,
        hour,
    })
}

/// What the model says of `city` in `hour`, in `units`.
fn predicted(city: &str, hour: u64, units: Units) -> Report {
    let (_, c) = model::city(city).expect("a city of the table");
    let w = model::conditions(c, hour).in_units(units);
    Report {
        city: c.name.to_string(),
        temperature: w.temperature,
        units,
        sky: w.sky.text().to_string(),
        humidity: w.humidity,
        wind: w.wind,
        hour,
    }
}

/// The shell's output for command `line`, up to the next prompt. The kernel's log shares
/// the serial line, so a log line may come between the prompt and the echoed command.
fn answer<'a>(out: &'a str, line: &str) -> Result<&'a str, String> {
    let echo = format!("{line}\n");
    let start = out
        .match_indices(&echo)
        .map(|(i, _)| i)
        .find(|&i| out[..i].ends_with("seam> ") || out[..i].ends_with('\n'))
        .ok_or_else(|| format!("output lacks the command \"{line}\""))?
        + echo.len();
    let rest = &out[start..];
    Ok(&rest[..rest.find("seam> ").unwrap_or(rest.len())])
}

/// Checks a `weather CITY [DAYS]` answer against the model: the conditions for the hour it
/// names, in `units`, and each forecast day.
fn check_weather(out: &str, line: &str, city: &str, units: Units, days: u64) -> Result<(), String> {
    let text = answer(out, line)?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().ok_or_else(|| format!("`{line}` printed nothing"))?;
    let got = report(first).ok_or_else(|| format!("`{line}` printed an unreadable report: {first}"))?;
    let want = predicted(city, got.hour, units);
    if got != want {
        return Err(format!("`{line}` said {got:?}; the model says {want:?}"));
    }
    let (_, c) = model::city(city).expect("a city of the table");
    let first_day = model::day_of(got.hour) + 1;
    let deg = if units == Units::Metric { "C" } else { "F" };
    for i in 0..days {
        let d = model::forecast(c, first_day + i).in_units(units);
        let want = format!(
            "  day {}: high {} {deg}, low {} {deg}, {}",
            first_day + i,
            Tenths(d.high),
            Tenths(d.low),
            d.sky.text()
        );
        match lines.next() {
            Some(l) if l.trim_end() == want => {}
            // The day turned between the two calls: the forecast starts a day later.
            Some(l) if i == 0 && l.starts_with(&format!("  day {}:", first_day + 1)) => return Ok(()),
            other => return Err(format!("`{line}` forecast day {i}: {other:?}, the model says {want:?}")),
        }
    }
    Ok(())
}

pub fn check_weather_session(out: &str) -> Result<(), String> {
    let cities = answer(out, "weather")?;
    let listed: Vec<&str> = cities.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let table: Vec<&str> = model::CITIES.iter().map(|c| c.name).collect();
    if listed != table {
        return Err(format!("`weather` listed {listed:?}, not the provider's cities {table:?}"));
    }
    check_weather(out, "weather Oslo 3", "Oslo", Units::Metric, 3)?;
    check_weather(out, "weather bergen", "Bergen", Units::Metric, 0)?;
    check_weather(out, "weather Cairo 2", "Cairo", Units::Imperial, 2)?;
    check_weather(out, "weather Tokyo 1", "Tokyo", Units::Metric, 1)?;
    check_weather(out, "weather Sydney", "Sydney", Units::Metric, 0)
}

/// The default system without its demo apps, so a session starts from empty services.
pub fn without_demos() -> String {
    let programs: Vec<&str> = super::DEFAULT_SYSTEM
        .split("[[program]]")
        .filter(|p| {
            !["weather-widget", "photo-importer", "legacy-weather-widget", "legacy-gallery-browser"]
                .iter()
                .any(|demo| p.contains(&format!("name = \"{demo}\"")))
        })
        .collect();
    programs.join("[[program]]")
}

/// A session with the demo apps of the default system: the importer's album, the widget's
/// published weather before and after the hour turns, and after the weather server restarts.
pub fn demo_session() -> Vec<Step> {
    [
        vec![Step::expect("photo-importer: Camera holds 12 photos (12 imported, 0 already there)")],
        vec![Step::expect("seam> ")],
        command("gallery albums", "Camera (12 photos)"),
        command("gallery search IMG_ 1790000600 1790001800", "3 of 3 shown"),
        command("settings get widget.weather", "widget.weather = \"Oslo: "),
        vec![Step::line("weather watch Oslo"), Step::expect("the weather in Oslo changed"), Step::expect("seam> ")],
        command("settings get widget.weather", "widget.weather = \"Oslo: "),
        command("kill weather", "weather: killed"),
        vec![Step::line("weather watch Oslo"), Step::expect("the weather in Oslo changed"), Step::expect("seam> ")],
        command("settings list widget.", "widget.updates = "),
        command("compat services", "weather"),
        command("compat routes", "weather     legacy"),
        command("compat route weather native", "weather: native"),
        command("compat routes", "weather     native"),
        vec![Step::line("weather watch Oslo"), Step::expect("the weather in Oslo changed"), Step::expect("seam> ")],
        command("compat routes", "weather     native"),
        command("compat stats", "transactions "),
        command("compat route atlantis native", "compat: no interface 'atlantis'"),
        command("compat route weather sideways", "compat: usage: compat"),
    ]
    .concat()
}

/// The hour `settings get widget.weather` showed, the `n`th time it ran, checked against
/// the model.
fn widget_hour(out: &str, n: usize) -> Result<u64, String> {
    let line = out
        .lines()
        .filter(|l| l.starts_with("widget.weather = \""))
        .nth(n)
        .ok_or_else(|| format!("no widget.weather answer #{n}"))?;
    let shown = line.trim_end().strip_prefix("widget.weather = \"").and_then(|l| l.strip_suffix('"')).unwrap_or("");
    let hour: u64 = shown
        .rsplit_once("(hour ")
        .and_then(|(_, h)| h.strip_suffix(')'))
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| format!("the widget shows no hour: {line}"))?;
    let want = predicted("Oslo", hour, Units::Metric);
    let expected = format!("Oslo: {} C, {} (hour {hour})", Tenths(want.temperature), want.sky);
    if shown != expected {
        return Err(format!("the widget shows \"{shown}\"; the model says \"{expected}\""));
    }
    Ok(hour)
}

pub fn check_demo_session(out: &str) -> Result<(), String> {
    let (before, after) = (widget_hour(out, 0)?, widget_hour(out, 1)?);
    if after <= before {
        return Err(format!("the widget still shows hour {after} after the hour turned from {before}"));
    }
    let updates = out.lines().find(|l| l.contains("widget.updates = ")).unwrap_or("");
    let n: u64 = updates.rsplit(' ').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    if n < 3 {
        return Err(format!("the widget updated {n} times through two turns of the hour and a restart"));
    }
    // The legacy widget's calls go to the native weather server once the route says so.
    let native: Vec<u64> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("weather     native"))
        .filter_map(|l| l.split_whitespace().nth(3)?.parse().ok())
        .collect();
    match native[..] {
        [.., before, after] if after > before => Ok(()),
        _ => Err(format!("the legacy widget's native calls did not grow after the switch: {native:?}")),
    }
}

/// A test system: the name server, the gallery, and ipctest's `gallery` scenario.
pub fn gallery_system() -> String {
    let gallery = super::DEFAULT_SYSTEM
        .split("[[program]]")
        .find(|p| p.contains("name = \"gallery\""))
        .expect("the default system has a gallery");
    format!(
        "{}\n[[program]]{gallery}\n[[program]]\nname = \"ipctest\"\npriority = 100\nmemory = \"1 MiB\"\nuses = [\"gallery\"]\nargs = [\"gallery\"]\n",
        crate::system::NAME_SERVER
    )
}

/// A session with the gallery service: albums, photos and their thumbnails, paging, search,
/// refusals, and the index surviving a kill of the server.
pub fn gallery_session() -> Vec<Step> {
    let mut steps = [
        vec![Step::expect("seam> ")],
        command("gallery albums", "no albums"),
        command("gallery mkalbum Holiday", "album Holiday made"),
        command("gallery mkalbum Holiday", "gallery: already exists"),
        command("gallery add Holiday IMG_0001.jpg 1000 2500000", "added #1 "),
        command("gallery add Holiday IMG_0002.jpg 2000 10", "added #2 "),
        command("gallery add Holiday beach.png 3000 5", "added #3 "),
        command("gallery add Holiday beach.png 3000 5", "gallery: already exists"),
        command("gallery add Nowhere x.jpg", "gallery: no such album"),
        command("gallery add Holiday two words", "gallery: usage"),
        command("gallery mkalbum Cats", "album Cats made"),
    ]
    .concat();
    for i in 0..18 {
        steps.extend(command(&format!("gallery add Cats cat-{i:02}.jpg {}", 5000 + i), "added #"));
    }
    steps.extend(
        [
            command("gallery ls Cats", "16 of 18 shown (from 0)"),
            command("gallery ls Cats 1", "2 of 18 shown (from 16)"),
            command("gallery thumb 2", "#2 thumbnail: "),
            command("gallery search IMG_ 1500 2500", "1 of 1 shown"),
            command("gallery search cat-1 5000 5013", "4 of 4 shown"),
            command("kill gallery", "gallery: killed"),
            command("gallery ls Holiday", "3 of 3 shown"),
            command("gallery thumb 2", "#2 thumbnail: "),
            command("gallery rm 1", "#1 removed"),
            command("gallery rm 1", "gallery: no such photo"),
            command("gallery thumb 999", "gallery: no such photo"),
            command("gallery rmalbum Cats", "album Cats deleted"),
            command("kill gallery", "gallery: killed"),
            command("gallery albums", "Holiday (2 photos)"),
        ]
        .concat(),
    );
    steps
}

/// The checksum an answer printed after `key`: "sum 1a2b3c4d".
fn sum<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let line = text.lines().find(|l| l.contains(key))?;
    line.split("sum ").nth(1).map(|s| s.trim_end_matches(')').trim())
}

pub fn check_gallery_session(out: &str) -> Result<(), String> {
    // The thumbnail comes back byte for byte, before and after the restart.
    let added =
        sum(answer(out, "gallery add Holiday IMG_0002.jpg 2000 10")?, "added #2").ok_or("`add` printed no checksum")?;
    let fetched: Vec<&str> = out
        .match_indices("#2 thumbnail: ")
        .filter_map(|(i, _)| sum(out[i..].lines().next().unwrap_or(""), "thumbnail"))
        .collect();
    if fetched.len() != 2 || fetched.iter().any(|&s| s != added) {
        return Err(format!("thumbnail #2 was added with sum {added}, fetched with {fetched:?}"));
    }
    let ls = answer(out, "gallery ls Cats 1")?;
    let listed: Vec<&str> = ls.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    if listed[..2] != ["cat-16.jpg", "cat-17.jpg"] {
        return Err(format!("the second page of Cats is {listed:?}"));
    }
    let search = answer(out, "gallery search cat-1 5000 5013")?;
    let found: Vec<&str> = search.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    if found[..4] != ["cat-10.jpg", "cat-11.jpg", "cat-12.jpg", "cat-13.jpg"] {
        return Err(format!("search found {found:?}"));
    }
    let after = answer(out, "gallery ls Holiday")?;
    for photo in ["#1 IMG_0001.jpg time 1000 size 2500000", "#2 IMG_0002.jpg time 2000 size 10", "#3 beach.png"] {
        if !after.contains(photo) {
            return Err(format!("after its restart the gallery lacks \"{photo}\":\n{after}"));
        }
    }
    Ok(())
}

/// A test system: the default one without its demos, whose name server faults (once) when
/// init registers `weather` with it at boot, with names registered before it and after.
pub fn name_fault_system() -> String {
    let hooked = "provides = [\"name\"]\nstore = \"4 KiB\"\nargs = [\"fault-once-at\", \"weather\"]\n";
    without_demos().replacen("provides = [\"name\"]\n", hooked, 1)
}

/// Every name the default system's servers provide, and init's.
const NAMES: [&str; 8] = ["name", "init", "console", "input", "settings", "weather", "gallery", "compat"];

/// Once init has started the name server again, a weather call works and the shell lists
/// every name. (Init's registrar runs above the shell, so by the time the shell is answered,
/// init has registered everything again.)
pub fn name_fault_session() -> Vec<Step> {
    [
        vec![Step::expect("init: 'name' faulted"), Step::expect("init: started 'name'")],
        vec![Step::line(""), Step::expect("seam> ")],
        command("weather Oslo", "Oslo: "),
        command("services", "compat"),
    ]
    .concat()
}

/// The name server faulted at `weather` and was started again, once; init booted on and
/// registered every name with the new one (the shell's `services` lists them all).
pub fn check_name_fault(out: &str) -> Result<(), String> {
    super::in_order(
        out,
        &["name: faulting at the registration of 'weather'", "init: 'name' faulted", "init: started 'name'", "seam> "],
    )?;
    let starts = out.matches("init: started 'name'").count();
    if starts != 2 {
        return Err(format!("the name server was started {starts} times, not twice"));
    }
    let listing = answer(out, "services")?;
    let listed: Vec<&str> = listing.lines().filter_map(|l| l.split_whitespace().next()).collect();
    match NAMES.iter().find(|n| !listed.contains(n)) {
        Some(missing) => Err(format!("'{missing}' is not registered after the fault:\n{listing}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_read_and_checked_against_the_model() {
        let r = predicted("Oslo", 5, Units::Imperial);
        let line = format!(
            "Oslo: {}.{} F, {}, humidity {}%, wind {}.{} mph (hour 5, 3 ms old)",
            r.temperature / 10,
            r.temperature % 10,
            r.sky,
            r.humidity,
            r.wind / 10,
            r.wind % 10
        );
        assert_eq!(report(&line), Some(r));
        assert_eq!(tenths("-0.7"), Some(-7));
        assert_eq!(tenths("12.0"), Some(120));
        assert_eq!(tenths("12"), None);
        assert_eq!(report("Oslo: 1.0 K, clear, humidity 1%, wind 1.0 km/h (hour 1, 0 ms old)"), None);
        let out = format!("seam> weather Oslo\n{line}\nseam> ");
        assert!(check_weather(&out, "weather Oslo", "Oslo", Units::Imperial, 0).is_ok());
        assert!(check_weather(&out, "weather Oslo", "Oslo", Units::Metric, 0).is_err(), "wrong units");
        let logged = format!("seam> [    0.1] INFO  a kernel line\nweather Oslo\n{line}\nseam> ");
        assert!(
            check_weather(&logged, "weather Oslo", "Oslo", Units::Imperial, 0).is_ok(),
            "a log line before the echo"
        );
        let wrong = out.replace("(hour 5", "(hour 6");
        assert!(check_weather(&wrong, "weather Oslo", "Oslo", Units::Imperial, 0).is_err(), "another hour");
    }
}
