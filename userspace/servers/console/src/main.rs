//! `console`, the console server: it owns COM1 (its ports and IRQ 4, from the system
//! description) and is how the system's programs print and the shell reads
//! (`ipc::proto::console`).
//!
//! Output: each client's text is kept until its line is whole, then printed with the
//! client's name in front, so lines never interleave; a client that looked the console up as
//! `input` (the shell) prints untagged and at once, so its prompt shows. Input is
//! interrupt-driven: received bytes raise IRQ 4, which signals a notification bound to this
//! server's thread, so one receive waits for requests and keystrokes alike. Typed bytes are
//! edited (`LineEditor`) and echoed; a whole line answers the reader waiting for one, or waits
//! for the next `READ`.
//!
//! The kernel still writes its own log to COM1, polled, line by line: a kernel line can
//! fall between two lines of the console's, never inside one of the kernel's.
#![no_std]
#![no_main]

extern crate alloc;

mod uart;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::cap::{Kind, Slot, SELF};
use ipc::msg::LABEL_NOTIFICATION;
use ipc::proto::console::{self as proto, ConsoleError, LineEditor, Request, Typed, CHUNK, INPUT};
use ipc::proto::Message;
use ipc::system::{self, slots, ProgramNumber};
use rt::sys::{self, Msg};
use rt::{cap, ipc, println};

rt::main!(main);

/// The longest line kept for a client or typed; the rest of a longer one is cut off.
const LINE_MAX: usize = 256;

struct Console {
    /// Program `n` of the description is `names[n - 1]`; its place among the console's
    /// names decides whether a caller reads (`input_service`).
    names: Vec<String>,
    input_service: Option<u8>,
    /// Each client's unfinished line.
    partial: Vec<(ProgramNumber, String)>,
    editor: LineEditor<LINE_MAX>,
    /// Typed lines not read yet, each with its `\n`, and the unread rest of the current one.
    lines: VecDeque<String>,
    /// Whether a client waits for a line, its reply capability in `waiting`.
    reader: bool,
    waiting: Slot,
    ended: bool,
}

fn main(_: rt::Args) -> u64 {
    let mut console = match Console::new() {
        Ok(c) => c,
        Err(e) => {
            println!("console: {e}");
            return 1;
        }
    };
    let reply = cap::alloc().expect("slot");
    let mut answer: Option<Message> = None;
    loop {
        let owed = answer.take().map(|a| Msg::from_proto(&a));
        let received = sys::next_request(slots::SERVICE, reply, owed.as_ref());
        let m = match received {
            Ok(m) => m,
            Err(e) => {
                println!("console: receive failed: {e}");
                return 1;
            }
        };
        if m.label() == LABEL_NOTIFICATION {
            // The line is edge-triggered, and bytes keep coming while it is masked: unmask
            // first, then take everything, then re-arm the UART so that bytes still waiting
            // raise a fresh edge.
            let _ = sys::irq_ack(slots::IRQ_FIRST);
            console.typed();
            uart::rearm();
            continue;
        }
        let Some(request) = m.proto() else { continue };
        let (client, service) = system::unbadge(m.badge).unwrap_or((0, 0));
        answer = match Request::decode(&request) {
            Err(e) => Some(proto::refuse(e)),
            Ok(Request::Write) => Some(console.write(client, service, &request)),
            Ok(Request::Read) => console.read(service, reply),
        };
    }
}

impl Console {
    fn new() -> Result<Console, &'static str> {
        let text = rt::system::description()?;
        let programs: Vec<_> = system::programs(&text).flatten().collect();
        let me = programs.iter().find(|p| p.name == "console").ok_or("not in the description")?;
        let input_service = me.provides.items().position(|n| n == INPUT).map(|i| i as u8);
        let names = programs.iter().map(|p| String::from(p.name)).collect();
        sys::io_ports_enable(slots::IOPORTS_FIRST).map_err(|_| "no COM1 ports")?;
        let irq = cap::create(Kind::Notification, 0).map_err(|_| "no memory")?;
        sys::irq_bind(slots::IRQ_FIRST, irq).map_err(|_| "no IRQ 4")?;
        sys::ntfn_bind(irq).map_err(|_| "cannot bind the notification")?;
        uart::enable_receive_interrupt();
        let waiting = cap::alloc().map_err(|_| "no slot")?;
        Ok(Console {
            names,
            input_service,
            partial: Vec::new(),
            editor: LineEditor::new(),
            lines: VecDeque::new(),
            reader: false,
            waiting,
            ended: false,
        })
    }

    fn name(&self, client: ProgramNumber) -> &str {
        match client {
            0 => "init",
            n => self.names.get(usize::from(n) - 1).map_or("?", String::as_str),
        }
    }

    fn is_reader(&self, service: u8) -> bool {
        self.input_service == Some(service)
    }

    fn write(&mut self, client: ProgramNumber, service: u8, request: &Message) -> Message {
        let mut buf = [0; 64];
        let Some(text) = proto::text_of(request, &mut buf) else { return proto::refuse(ConsoleError::BadRequest) };
        if self.is_reader(service) {
            uart::write(text);
            return proto::written();
        }
        let i = match self.partial.iter().position(|(c, _)| *c == client) {
            Some(i) => i,
            None => {
                self.partial.push((client, String::new()));
                self.partial.len() - 1
            }
        };
        for piece in text.split_inclusive('\n') {
            let line = &mut self.partial[i].1;
            if line.len() + piece.len() <= LINE_MAX {
                line.push_str(piece);
            }
            if piece.ends_with('\n') || line.len() + CHUNK > LINE_MAX {
                let whole = core::mem::take(&mut self.partial[i].1);
                let name = self.name(client);
                uart::write(name);
                uart::write(": ");
                uart::write(whole.trim_end_matches('\n'));
                uart::write("\n");
            }
        }
        proto::written()
    }

    /// A `READ`: the next chunk if a line is ready, else the caller waits (its reply
    /// capability kept) and the answer is None.
    fn read(&mut self, service: u8, reply: Slot) -> Option<Message> {
        if !self.is_reader(service) {
            return Some(proto::refuse(ConsoleError::Denied));
        }
        if self.reader {
            return Some(proto::refuse(ConsoleError::Busy));
        }
        if let Some(chunk) = self.next_chunk() {
            return Some(chunk);
        }
        if sys::cap_move(reply, self.waiting, SELF).is_err() {
            return Some(proto::refuse(ConsoleError::BadRequest));
        }
        self.reader = true;
        None
    }

    /// The next chunk of typed input, if there is one (or the end of input).
    fn next_chunk(&mut self) -> Option<Message> {
        let Some(line) = self.lines.front_mut() else {
            return self.ended.then(|| proto::refuse(ConsoleError::EndOfInput));
        };
        let part = String::from(proto::chunk(line));
        line.drain(..part.len());
        if line.is_empty() {
            self.lines.pop_front();
        }
        proto::text_message(ipc::proto::OK, &part)
    }

    /// Takes every byte the UART has received, edits and echoes it, and answers a waiting
    /// reader once a line is whole.
    fn typed(&mut self) {
        while let Some(byte) = uart::receive() {
            match self.editor.feed(byte) {
                Typed::Echo(b) => uart::write_byte(b),
                Typed::Erased => uart::write("\x08 \x08"),
                Typed::Nothing => {}
                Typed::Cancelled => uart::write("^C\n"),
                Typed::EndOfInput => self.ended = true,
                Typed::Done => {
                    uart::write("\n");
                    let mut out = [0; LINE_MAX];
                    let len = self.editor.take(&mut out);
                    let mut line = String::from(core::str::from_utf8(&out[..len]).unwrap_or(""));
                    line.push('\n');
                    self.lines.push_back(line);
                }
            }
        }
        if self.reader {
            if let Some(chunk) = self.next_chunk() {
                self.reader = false;
                let _ = sys::send(self.waiting, &Msg::from_proto(&chunk));
            }
        }
    }
}
