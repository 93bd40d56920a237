//! `supervised-echo`: an echo server for the tests of supervision. As a program of a system
//! description that provides a service, it answers PING on its service endpoint with the word
//! plus one, ends on QUIT, and on CRASH faults on purpose (a write to address 0), so that init
//! restarts it.
#![no_std]
#![no_main]

use rt::ipc::system::slots;
use rt::sys::{self, Msg};
use rt::{cap, println};

rt::main!(main);

pub const PING: u32 = 1;
pub const QUIT: u32 = 2;
pub const CRASH: u32 = 4;

fn main(args: rt::Args) -> u64 {
    println!("echo server up (pid {})", args.pid);
    let reply = cap::alloc().expect("no free slot");
    let mut answer = Msg::default();
    loop {
        let m = match sys::reply_recv(slots::SERVICE, reply, &answer) {
            Ok(m) => m,
            Err(e) => {
                println!("echo: receive failed: {e}");
                return 1;
            }
        };
        answer = match m.label() {
            PING => Msg::new(PING, &[m.words[0] + 1]),
            CRASH => {
                // SAFETY: none: this write to address 0 faults, which is the point.
                unsafe { core::ptr::null_mut::<u64>().write_volatile(1) };
                unreachable!("the write to address 0 returned")
            }
            QUIT => {
                let _ = sys::send(reply, &Msg::new(QUIT, &[]));
                return 0;
            }
            _ => Msg::new(0, &[]),
        };
    }
}
