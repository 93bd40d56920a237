//! `shell`, a command line on the console: it reads a line (the console's `input` service),
//! runs the command it names, and prints what comes of it. It looks at the system through
//! the introspection capability (`ps`, `caps`, `mem`), the name server (`services`) and
//! init's service (`kill`, `restart`); the system description grants it each of those.
//! A command it does not know, or bad arguments, get a one-line error.
#![no_std]
#![no_main]

extern crate alloc;

mod commands;
mod compat;
mod gallery;
mod settings;
mod weather;

use ipc::proto::console::{ConsoleError, INPUT};
use ipc::system::INIT_SERVICE;
use rt::{console, ipc, name, print, println, sys};

rt::main!(main);

/// What the shell reaches the system through.
pub struct Shell {
    /// The console, as `input`.
    input: u64,
    /// Init's service.
    init: Option<u64>,
    /// The settings service.
    settings: Option<u64>,
    /// The weather service.
    weather: Option<u64>,
    /// The gallery service, and the Frame thumbnails go through (made when first needed).
    gallery: Option<u64>,
    thumb_frame: core::cell::RefCell<Option<rt::gallery::ThumbFrame>>,
    /// The compatibility server.
    compat: Option<u64>,
}

fn main(_: rt::Args) -> u64 {
    let Ok((input, _)) = name::lookup(INPUT) else {
        println!("shell: cannot reach the console's input");
        return 1;
    };
    let init = name::lookup(INIT_SERVICE).ok().map(|(slot, _)| slot);
    let settings = name::lookup("settings").ok().map(|(slot, _)| slot);
    let weather = name::lookup("weather").ok().map(|(slot, _)| slot);
    let gallery = name::lookup("gallery").ok().map(|(slot, _)| slot);
    let compat = name::lookup("compat").ok().map(|(slot, _)| slot);
    let shell = Shell { input, init, settings, weather, gallery, thumb_frame: Default::default(), compat };
    println!("Seam shell, {} ms after boot. Type help for the commands.", sys::micros_since_boot() / 1000);
    loop {
        print!("seam> ");
        match console::read_line(shell.input) {
            Ok(line) => shell.run(line.trim()),
            Err(ConsoleError::EndOfInput) => {
                println!("logout");
                return 0;
            }
            Err(e) => {
                println!("shell: cannot read: {e}");
                return 1;
            }
        }
    }
}
