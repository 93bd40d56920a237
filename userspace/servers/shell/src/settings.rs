//! `settings get KEY | set KEY VALUE | del KEY | list [PREFIX] | watch PREFIX`: the settings
//! service from the shell. A value that reads as a whole number is an int, `true` and
//! `false` are bools, anything else (the rest of the line) a string.

use crate::Shell;
use alloc::format;
use alloc::string::String;
use ipc::cap::Kind;
use ipc::proto::settings::Value;
use rt::settings::{self as client, retry_once};
use rt::{cap, ipc, println, sys};

const USAGE: &str = "usage: settings get KEY | set KEY VALUE | del KEY | list [PREFIX] | watch PREFIX";

pub fn run(shell: &Shell, args: &[&str]) -> Result<(), String> {
    let service = shell.settings.ok_or("this shell is not given the settings service")?;
    let failed = |e: client::Failed| format!("{e}");
    match args {
        ["get", key] => {
            let value = retry_once(|| client::get(service, key)).map_err(failed)?;
            println!("{key} = {value}");
        }
        ["set", key, words @ ..] if !words.is_empty() => {
            let text = words.join(" ");
            let value = match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                t => t.parse().map(Value::Int).unwrap_or(Value::Str(t)),
            };
            retry_once(|| client::set(service, key, value)).map_err(failed)?;
            println!("{key} = {value}");
        }
        ["del", key] => {
            retry_once(|| client::del(service, key)).map_err(failed)?;
            println!("{key} deleted");
        }
        ["list"] | ["list", _] => {
            let prefix = args.get(1).copied().unwrap_or("");
            let mut shown = 0;
            while let Some((key, value)) = retry_once(|| client::list(service, prefix, shown)).map_err(failed)? {
                println!("  {key} = {value}");
                shown += 1;
            }
            if shown == 0 {
                println!("nothing under \"{prefix}\"");
            }
        }
        ["watch", prefix] => {
            let notification = cap::create(Kind::Notification, 0).map_err(|e| format!("{e}"))?;
            let watched = client::watch(service, prefix, notification).map_err(failed);
            if watched.is_ok() {
                println!("waiting for a change under \"{prefix}\"...");
                let _ = sys::ntfn_wait(notification);
                println!("something under \"{prefix}\" changed");
            }
            cap::release(notification);
            watched?;
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
