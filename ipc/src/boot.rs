//! The boot manifest: what the image builder tells the kernel, through the ramdisk.
//!
//! The ramdisk is a cpio (newc) archive. Beside the user programs it may hold a file named
//! [`CMDLINE_PATH`], one line of whitespace-separated words, each `key=value` or a bare `flag`,
//! like a Linux command line. The kernel reads it at boot; `cargo xtask` writes it, for
//! instance `test=page_fault` to make the kernel run one self-test and report through the
//! QEMU exit device.

/// Where the command line lives inside the ramdisk archive.
pub const CMDLINE_PATH: &str = "cmdline";

/// The key naming the self-test to run after boot.
pub const KEY_TEST: &str = "test";

/// Where the user programs live inside the ramdisk archive: `bin/NAME`.
pub const PROGRAM_DIR: &str = "bin/";

/// The program the kernel starts when the command line names none.
pub const INIT_PROGRAM: &str = "init";

/// The key naming a program to start at boot instead of `init`; may be given many times.
/// Its value is a [`Launch`]: `NAME[@PRIORITY][:ARG[:ARG...]]`, for instance
/// `run=spinner@50:a:30` (arguments are separated by `:` because words are by spaces).
pub const KEY_RUN: &str = "run";

/// A flag: stop QEMU with success once every process has ended (tests use it).
pub const KEY_EXIT_WHEN_DONE: &str = "exit_when_done";

/// Command-line key: `fastpath=off` sends every IPC call down the kernel's full path (the
/// fast path changes speed, never behaviour; the tests run both ways to show it).
pub const KEY_FASTPATH: &str = "fastpath";

/// A flag: record IPC events in the kernel's trace ring ([`crate::trace`]) for `TraceRead`.
/// Off, the fast path pays nothing for the trace.
pub const KEY_TRACE: &str = "trace";

/// The line the kernel prints once every subsystem is up; the harness waits for it.
pub const READY_LINE: &str = "kernel ready";

/// The line the kernel prints when the last process has ended.
pub const ALL_ENDED_LINE: &str = "all processes have ended";

/// Where the kernel image is loaded (it is linked position-independent at 0): gdb and fault
/// reports see the same addresses on every boot.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// The unmapped address the `page_fault` self-test writes to; its report must name it.
pub const PAGE_FAULT_TEST_ADDRESS: u64 = 0x0000_1234_5678_9000;

/// The longest command line the kernel reads; longer ones are refused, not truncated.
pub const CMDLINE_MAX: usize = 4096;

/// A parsed view of the command line. Borrowing: no allocation, usable before the heap.
#[derive(Clone, Copy, Debug)]
pub struct CmdLine<'a>(&'a str);

impl<'a> CmdLine<'a> {
    pub const fn new(text: &'a str) -> Self {
        CmdLine(text)
    }

    /// The words as (key, value); a bare flag has the value "".
    pub fn words(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.split_whitespace().map(|word| word.split_once('=').unwrap_or((word, "")))
    }

    /// The value of `key`; when a key is given twice, the last one counts (as on Linux).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.words().filter(|&(k, _)| k == key).map(|(_, v)| v).last()
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.words().filter(move |&(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A program to start at boot, parsed from a `run=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Launch<'a> {
    pub name: &'a str,
    /// None means the default priority.
    pub priority: Option<u8>,
    /// The arguments, `:`-separated as written; see [`Launch::args`].
    args: &'a str,
}

impl<'a> Launch<'a> {
    pub fn parse(value: &'a str) -> Result<Launch<'a>, &'static str> {
        let (head, args) = value.split_once(':').unwrap_or((value, ""));
        let (name, priority) = match head.split_once('@') {
            Some((name, p)) => (name, Some(p.parse::<u8>().map_err(|_| "priority is not a number from 0 to 255")?)),
            None => (head, None),
        };
        if name.is_empty() {
            return Err("no program name");
        }
        Ok(Launch { name, priority, args })
    }

    /// The arguments, one by one.
    pub fn args(&self) -> impl Iterator<Item = &'a str> {
        self.args.split(':').filter(|a| !a.is_empty())
    }
}

/// The kernel's built-in self-tests, selected with `test=NAME`. The kernel runs them; the
/// harness (`cargo xtask test`) knows what each must report. One list keeps both in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfTest {
    /// Boot to ready and pass.
    Boot,
    /// Large and many small heap allocations, frame allocation; counts return to baseline.
    Heap,
    /// Every frame the allocator can hand out lies in usable memory, outside the kernel file,
    /// the ramdisk and low memory, and is handed out once.
    Frames,
    /// Timer interrupts arrive at the calibrated rate, measured against the PIT.
    Timer,
    /// The timer interrupt logs while the interrupted code logs too: no deadlock.
    LogInInterrupt,
    /// NX, WP, SMEP and SMAP are on wherever the CPU has them.
    CpuFeatures,
    /// `int3` is reported and execution resumes (the trap return path works).
    Breakpoint,
    /// A write to an unmapped address: page fault report.
    PageFault,
    /// `ud2`: invalid opcode report.
    InvalidOpcode,
    /// Unbounded recursion: the guard page turns it into a double-fault report.
    StackOverflow,
    /// A jump into a no-execute page: page fault on instruction fetch.
    NoExecute,
    /// A read just past the kernel heap: page fault in the heap's guard page.
    HeapGuard,
    /// `panic!`: the panic report names file and line.
    Panic,
    /// A write to the kernel's own text: it is read-only, and write protection holds for the
    /// kernel too (CR0.WP), so the write faults.
    TextWrite,
    /// A jump into the kernel's writable data (`.data`): no-execute, so the fetch faults.
    DataExecute,
    /// A jump into a user page: SMEP makes the fetch fault.
    Smep,
    /// A read of a user page without `stac`: SMAP makes it fault.
    Smap,
}

/// Where the SMEP and SMAP self-tests map their user page: in the lower half, which no process
/// shares with the kernel's own address space.
pub const USER_PAGE_TEST_ADDRESS: u64 = 0x0000_5000_0000_0000;

impl SelfTest {
    pub const ALL: [SelfTest; 17] = [
        SelfTest::Boot,
        SelfTest::Heap,
        SelfTest::Frames,
        SelfTest::Timer,
        SelfTest::LogInInterrupt,
        SelfTest::CpuFeatures,
        SelfTest::Breakpoint,
        SelfTest::PageFault,
        SelfTest::InvalidOpcode,
        SelfTest::StackOverflow,
        SelfTest::NoExecute,
        SelfTest::HeapGuard,
        SelfTest::Panic,
        SelfTest::TextWrite,
        SelfTest::DataExecute,
        SelfTest::Smep,
        SelfTest::Smap,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            SelfTest::Boot => "boot",
            SelfTest::Heap => "heap",
            SelfTest::Frames => "frames",
            SelfTest::Timer => "timer",
            SelfTest::LogInInterrupt => "log_in_interrupt",
            SelfTest::CpuFeatures => "cpu_features",
            SelfTest::Breakpoint => "breakpoint",
            SelfTest::PageFault => "page_fault",
            SelfTest::InvalidOpcode => "invalid_opcode",
            SelfTest::StackOverflow => "stack_overflow",
            SelfTest::NoExecute => "no_execute",
            SelfTest::HeapGuard => "heap_guard",
            SelfTest::Panic => "panic",
            SelfTest::TextWrite => "text_write",
            SelfTest::DataExecute => "data_execute",
            SelfTest::Smep => "smep",
            SelfTest::Smap => "smap",
        }
    }

    pub fn from_name(name: &str) -> Option<SelfTest> {
        SelfTest::ALL.into_iter().find(|t| t.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_values_and_flags() {
        let c = CmdLine::new("  test=heap quiet\tlog=debug \n");
        assert_eq!(c.get("test"), Some("heap"));
        assert_eq!(c.get("log"), Some("debug"));
        assert_eq!(c.get("quiet"), Some(""));
        assert!(c.has("quiet"));
        assert_eq!(c.get("missing"), None);
        assert_eq!(c.words().count(), 3);
    }

    #[test]
    fn last_value_wins_and_values_may_hold_equals() {
        let c = CmdLine::new("test=a test=b opt=x=y");
        assert_eq!(c.get("test"), Some("b"));
        assert_eq!(c.get("opt"), Some("x=y"));
    }

    #[test]
    fn empty_line_has_nothing() {
        let c = CmdLine::new("");
        assert_eq!(c.words().count(), 0);
        assert!(!c.has("test"));
    }

    #[test]
    fn launches_parse_name_priority_and_arguments() {
        let l = Launch::parse("spinner@50:a:30").unwrap();
        assert_eq!((l.name, l.priority), ("spinner", Some(50)));
        assert_eq!(l.args().collect::<Vec<_>>(), ["a", "30"]);
        let l = Launch::parse("init").unwrap();
        assert_eq!((l.name, l.priority, l.args().count()), ("init", None, 0));
        let l = Launch::parse("fault:null").unwrap();
        assert_eq!((l.name, l.priority), ("fault", None));
        assert_eq!(l.args().collect::<Vec<_>>(), ["null"]);
        assert!(Launch::parse("x@256").is_err());
        assert!(Launch::parse("x@-1").is_err());
        assert!(Launch::parse("x@:a").is_err());
        assert!(Launch::parse("").is_err());
        assert!(Launch::parse("@5").is_err());
    }

    #[test]
    fn every_value_of_a_repeated_key() {
        let c = CmdLine::new("run=a run=b:1 test=x run=c");
        assert_eq!(c.all("run").collect::<Vec<_>>(), ["a", "b:1", "c"]);
        assert_eq!(c.all("none").count(), 0);
    }

    #[test]
    fn self_test_names_round_trip_and_are_unique() {
        for t in SelfTest::ALL {
            assert_eq!(SelfTest::from_name(t.name()), Some(t));
            assert!(!t.name().contains(char::is_whitespace));
        }
        assert_eq!(SelfTest::from_name("no_such_test"), None);
        let mut names: [&str; 17] = SelfTest::ALL.map(SelfTest::name);
        names.sort_unstable();
        assert!(names.windows(2).all(|w| w[0] != w[1]));
    }
}
