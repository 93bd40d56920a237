//! `compat services | routes | stats | route IFACE legacy|native`: the compatibility server
//! from the shell. A route is changed through settings (`compat.route.IFACE`, which the
//! shell's entry may write); compat follows the key, and the shell waits until it has.

use crate::Shell;
use alloc::format;
use alloc::string::String;
use rt::compat::{self as client, retry_once};
use rt::println;

const USAGE: &str = "usage: compat services | routes | stats | route IFACE legacy|native";

pub fn run(shell: &Shell, args: &[&str]) -> Result<(), String> {
    let compat = shell.compat.ok_or("this shell is not given the compat service")?;
    let failed = |e: client::Failed| format!("{e}");
    match args {
        ["services"] => {
            println!("  NAME                      PID  HOST");
            let mut i = 0;
            while let Some((name, pid, own)) = retry_once(|| client::service(compat, i)).map_err(failed)? {
                println!("  {name:<24} {pid:>4}  {}", if own { "compat" } else { "app" });
                i += 1;
            }
        }
        ["routes"] => {
            println!("  INTERFACE   ROUTE    LEGACY CALLS  NATIVE CALLS");
            let mut i = 0;
            while let Some((name, native, served)) = retry_once(|| client::route(compat, i)).map_err(failed)? {
                let route = if native { "native" } else { "legacy" };
                println!("  {name:<11} {route:<8} {:>12}  {:>12}", served[0], served[1]);
                i += 1;
            }
        }
        ["stats"] => {
            let s = retry_once(|| client::stats(compat)).map_err(failed)?;
            println!(
                "transactions {} (oneway {}), replies {}, failed {}, dead replies {}, obituaries {}",
                s.transactions, s.oneway, s.replies, s.failed, s.dead_replies, s.obituaries
            );
            println!(
                "clients {}, nodes {}, handles {}, oneway calls queued {}",
                s.clients, s.nodes, s.handles, s.oneway_queued
            );
        }
        ["route", iface, to @ ("legacy" | "native")] => {
            let settings = shell.settings.ok_or("this shell is not given the settings service")?;
            let key = format!("compat.route.{iface}");
            let known = (0..).map_while(|i| client::route(compat, i).ok().flatten()).any(|(n, _, _)| n == *iface);
            if !known {
                return Err(format!("no interface '{iface}' (compat routes lists them)"));
            }
            // Compat follows the key when it is told: `switch` waits until it has.
            if !client::switch(settings, compat, iface, *to == "native") {
                return Err(format!("{iface}: could not set {key}, or compat did not follow"));
            }
            println!("{iface}: {to}");
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
