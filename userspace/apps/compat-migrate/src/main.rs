//! `compat-migrate FLIPS`: the operator's side of migration under load. While legacy apps
//! call `weather` and `gallery` through compat, it flips each interface's route FLIPS times
//! (through settings, `compat.route.NAME`, waiting each time until compat reports the new
//! route), and kills the native weather server through init twice, each time just after
//! routing weather to it. It says what it did: `compat-migrate: W weather flips, G gallery
//! flips, K kills`; a flip compat did not follow, or a kill init refused, is a `FAIL:` line.
#![no_std]
#![no_main]

extern crate alloc;

use ipc::proto::init::Request;
use rt::{ipc, println, sys};

rt::main!(main);

fn main(args: rt::Args) -> u64 {
    let flips: u32 = args.get(0).and_then(|n| n.parse().ok()).unwrap_or(10);
    let found = (rt::name::lookup("settings"), rt::name::lookup("compat"), rt::name::lookup(ipc::system::INIT_SERVICE));
    let (Ok((settings, _)), Ok((compat, _)), Ok((init, _))) = found else {
        println!("FAIL: compat-migrate needs settings, compat and init");
        return 1;
    };
    // Let the apps get going.
    sys::sleep(100);
    let (mut weather, mut gallery, mut kills) = (0, 0, 0);
    for i in 0..flips {
        let to = if i % 2 == 0 { "native" } else { "legacy" };
        for (iface, done) in [("weather", &mut weather), ("gallery", &mut gallery)] {
            if rt::compat::switch(settings, compat, iface, to == "native") {
                *done += 1;
            } else {
                println!("FAIL: compat did not route {iface} to {to}");
            }
            sys::sleep(40);
        }
        // Twice, the native weather server dies just after calls were routed to it.
        if to == "native" && (i == 2 || i == 6) {
            match rt::init::ask(init, Request::Kill("weather")) {
                Ok(_) => kills += 1,
                Err(e) => println!("FAIL: init did not kill weather: {e}"),
            }
        }
        sys::sleep(40);
    }
    // End where it began.
    let back = rt::compat::switch(settings, compat, "weather", false)
        && rt::compat::switch(settings, compat, "gallery", false);
    println!("compat-migrate: {weather} weather flips, {gallery} gallery flips, {kills} kills");
    u64::from(!back || weather != flips || gallery != flips || kills != 2)
}
