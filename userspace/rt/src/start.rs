//! The entry point and the panic handler: the first and the last code of every process.

use crate::{sys, PANIC_EXIT_CODE};

extern "Rust" {
    /// Defined by the program through `rt::main!`.
    fn seam_main(args: Args) -> u64;
}

/// What the process was started with: its id and its argument string.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub pid: u64,
    text: &'static str,
}

impl Args {
    /// The whole argument string.
    pub fn as_str(&self) -> &'static str {
        self.text
    }

    /// The arguments split on whitespace.
    pub fn words(&self) -> core::str::SplitWhitespace<'static> {
        self.text.split_whitespace()
    }

    /// Argument `i`, if given.
    pub fn get(&self, i: usize) -> Option<&'static str> {
        self.words().nth(i)
    }
}

/// The kernel enters here with the register convention `ipc::syscall` describes: the argument
/// string in `rdi`/`rsi`, the process id in `rdx`, the stack aligned as after a call.
#[no_mangle]
extern "C" fn _start(args_ptr: *const u8, args_len: usize, pid: u64) -> ! {
    // SAFETY: the kernel copied `args_len` bytes of UTF-8 to `args_ptr` on this process's
    // stack, above the initial stack pointer, where nothing overwrites them.
    let bytes = unsafe { core::slice::from_raw_parts(args_ptr, args_len) };
    let text = core::str::from_utf8(bytes).unwrap_or("");
    // SAFETY: `seam_main` is defined by `rt::main!` with exactly this signature.
    let code = unsafe { seam_main(Args { pid, text }) };
    sys::exit(code)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("panic: {info}");
    sys::exit(PANIC_EXIT_CODE)
}
