//! The `typing` scenario, run as a program of a system with a console that it uses as
//! `input`: it reads lines until the end of input and says what it got, for the harness to
//! type at and check (`console_input`).

use rt::ipc::proto::console::{ConsoleError, INPUT};
use rt::{console, name, println};

pub fn typing() -> u64 {
    let Ok((input, _)) = name::lookup(INPUT) else {
        println!("typing: cannot look up the console's input");
        return 1;
    };
    println!("typing: ready");
    loop {
        match console::read_line(input) {
            Ok(line) => println!("got {}: {line}", line.len()),
            Err(ConsoleError::EndOfInput) => {
                println!("typing: end of input");
                return 0;
            }
            Err(e) => {
                println!("typing: read failed: {e}");
                return 1;
            }
        }
    }
}
