//! The IPC trace: what the kernel records of each IPC event when booted with the `trace`
//! flag ([`crate::boot::KEY_TRACE`]), as `TraceRead` copies it out: [`EVENT_WORDS`] words per
//! event. `cargo xtask trace` turns a run's events into a Perfetto trace.

/// Words per event in `TraceRead`'s buffer.
pub const EVENT_WORDS: usize = 4;

/// Events the kernel keeps: the newest this many, older ones overwritten (and counted as
/// lost to the next `TraceRead`). 32 bytes each: 1 MiB of kernel heap, only when tracing.
pub const TRACE_CAPACITY: usize = 32 * 1024;

/// The most events one `TraceRead` copies (32 KiB); read again for more.
pub const TRACE_READ_MAX: u64 = 1024;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `thread` called an endpoint (`badge`, `label`); it waits for the answer.
    Call = 1,
    /// `thread` sent to an endpoint without waiting (`Send`, `NbSend`).
    Send = 2,
    /// `thread` was given a message (`badge`, `label`) from `partner` (0 for a signal or a
    /// fault message from the kernel).
    Receive = 3,
    /// `thread` answered `partner`'s call (`label`).
    Reply = 4,
    /// `thread` faulted (CPU exception `label`); its process stops.
    Fault = 5,
    /// The CPU went from `thread` to `partner`.
    Switch = 6,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Call, Kind::Send, Kind::Receive, Kind::Reply, Kind::Fault, Kind::Switch];

    pub fn from_u8(n: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == n)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Send => "send",
            Kind::Receive => "receive",
            Kind::Reply => "reply",
            Kind::Fault => "fault",
            Kind::Switch => "switch",
        }
    }
}

/// One event. Threads are the kernel's thread ids (0 is the idle thread); `pid` is the
/// process of `thread`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The TSC when it happened.
    pub tsc: u64,
    pub kind: Kind,
    pub pid: u32,
    pub thread: u32,
    pub partner: u32,
    pub badge: u64,
    pub label: u32,
}

/// The largest process id an event can name (24 bits); larger ones are recorded as this.
pub const PID_MAX: u32 = (1 << 24) - 1;

impl Event {
    /// `[tsc, badge, thread | partner << 32, label | kind << 32 | pid << 40]`.
    pub fn to_words(&self) -> [u64; EVENT_WORDS] {
        let pid = u64::from(self.pid.min(PID_MAX));
        [
            self.tsc,
            self.badge,
            u64::from(self.thread) | u64::from(self.partner) << 32,
            u64::from(self.label) | (self.kind as u64) << 32 | pid << 40,
        ]
    }

    /// The event in `words`, or None if its kind is not one of [`Kind`].
    pub fn from_words(words: [u64; EVENT_WORDS]) -> Option<Event> {
        let [tsc, badge, threads, rest] = words;
        Some(Event {
            tsc,
            kind: Kind::from_u8((rest >> 32) as u8)?,
            pid: (rest >> 40) as u32,
            thread: threads as u32,
            partner: (threads >> 32) as u32,
            badge,
            label: rest as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_survives_its_words() {
        for kind in Kind::ALL {
            let e = Event {
                tsc: u64::MAX - 3,
                kind,
                pid: PID_MAX,
                thread: 7,
                partner: u32::MAX,
                badge: 1 << 63,
                label: 0xdead_beef,
            };
            assert_eq!(Event::from_words(e.to_words()), Some(e));
        }
    }

    #[test]
    fn a_large_pid_is_clamped_and_an_unknown_kind_refused() {
        let e = Event { tsc: 1, kind: Kind::Call, pid: u32::MAX, thread: 1, partner: 2, badge: 3, label: 4 };
        assert_eq!(Event::from_words(e.to_words()).map(|e| e.pid), Some(PID_MAX));
        assert_eq!(Event::from_words([0, 0, 0, 0]), None);
        assert_eq!(Event::from_words([0, 0, 0, 7 << 32]), None);
    }
}
