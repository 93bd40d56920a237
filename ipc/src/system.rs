//! The system description as `init` reads it: the compact form that `cargo xtask` makes from
//! `userspace/system.toml` and puts in the ramdisk at [`SYSTEM_PATH`].
//!
//! One line per program, in start order, after a [`HEADER`] line; each line is `program`
//! followed by `key=value` words and bare flags, in the manner of the boot command line:
//!
//! ```text
//! seam-system 1
//! program name=console priority=200 memory=262144 uses=name provides=console ports=0x3f8-0x3ff irqs=4 restart=3/100
//! ```
//!
//! Parsing borrows the text and allocates nothing. [`check`] holds every rule a system must
//! keep (the same function checks the TOML file at build time and the ramdisk at boot), so the
//! rules are written once. [`Program`]'s `Display` writes a line back.

use core::fmt;

/// The first line of the compact form: its name and layout version.
pub const HEADER: &str = "seam-system 1";

/// Where the compact form lives in the ramdisk archive.
pub const SYSTEM_PATH: &str = "etc/system";

/// At most this many programs in a system (init keeps one bit per program in a word).
pub const PROGRAMS_MAX: usize = 32;
/// At most this many services one program provides.
pub const PROVIDES_MAX: usize = 4;
/// At most this many I/O port ranges, and interrupt lines, one program is given.
pub const PORT_RANGES_MAX: usize = 4;
pub const IRQS_MAX: usize = 4;
/// The name server's own service name. Its provider starts first, and every program that
/// uses or provides a service gets a capability to it (but the name server itself).
pub const NAME_SERVICE: &str = "name";

/// The service init provides itself (`ipc::proto::init`): no program of a description may
/// provide it, and those that use it find it there from the start.
pub const INIT_SERVICE: &str = "init";

/// The longest program or service name.
pub const NAME_MAX: usize = 24;

/// Where a program started from the description finds what it was given. Slots not listed
/// here stay empty unless the program fills them; `rt::cap` hands out slots from
/// [`crate::cap::GIVEN_SLOTS`] on.
pub mod slots {
    use crate::cap::Slot;

    /// Its Memory quota: a split of init's, `memory` bytes, which also paid for its image.
    pub const MEMORY: Slot = crate::cap::init_slots::MEMORY;
    /// The boot archive, with the `archive` key: the read right to read its files, and the
    /// write right too (`archive=spawn`) to make processes.
    pub const ARCHIVE: Slot = crate::cap::init_slots::ARCHIVE;
    /// The name server's endpoint, badged for this program ([`super::badge`], service 0),
    /// when it uses or provides any service.
    pub const NAME: Slot = 2;
    /// The endpoint it serves, when it provides services: one endpoint, whatever the number
    /// of names it goes by (the badge of a call says which name the caller looked up).
    pub const SERVICE: Slot = 3;
    /// The introspection capability, only with the `introspect` flag.
    pub const INTROSPECT: Slot = 4;
    /// Its I/O port ranges, in the order `ports` lists them.
    pub const IOPORTS_FIRST: Slot = 5;
    /// Its interrupt lines, in the order `irqs` lists them.
    pub const IRQ_FIRST: Slot = IOPORTS_FIRST + super::PORT_RANGES_MAX as Slot;
    /// Its store, with a `store` size: a Frame init made once and gives to every instance of
    /// the program, so that what it keeps there survives its crashes.
    pub const STORE: Slot = IRQ_FIRST + super::IRQS_MAX as Slot;
    /// The first slot the description never fills.
    pub const END: Slot = STORE + 1;
    const _: () = assert!(MEMORY < ARCHIVE && ARCHIVE < NAME && NAME < SERVICE && SERVICE < INTROSPECT);
    const _: () = assert!(INTROSPECT < IOPORTS_FIRST && END <= crate::cap::GIVEN_SLOTS);
}

/// The number that names a program of a system in badges: its place in start order, from 1.
/// 0 is init, which is in no description.
pub type ProgramNumber = u8;

/// The badge of a capability to a service endpoint that program `client` was given when it
/// looked up the `service`th name its provider goes by. Every capability a program gets to
/// a service carries its own number, so a server always knows who calls, and through which
/// of its names. The badges of capabilities to the name server say service 0.
pub const fn badge(client: ProgramNumber, service: u8) -> u64 {
    (client as u64) << 8 | service as u64 | BADGED
}

/// Set in every badge [`badge`] makes, so none is 0 (which means "no badge"), not even
/// init's own.
const BADGED: u64 = 1 << 16;

/// The (client, service) a badge made by [`badge`] stands for.
pub const fn unbadge(badge: u64) -> Option<(ProgramNumber, u8)> {
    if badge & !0x1_ffff != 0 || badge & BADGED == 0 {
        return None;
    }
    Some(((badge >> 8) as u8, badge as u8))
}

/// Which program calls, by the badge of the capability it called through: 0 (unbadged) is
/// init, which holds the originals; a badge [`badge`] made names its program. None for any
/// other badge.
pub const fn caller(badge: u64) -> Option<ProgramNumber> {
    match badge {
        0 => Some(0),
        b => match unbadge(b) {
            Some((client, _)) => Some(client),
            None => None,
        },
    }
}

/// What a program may do with the boot archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Archive {
    /// Nothing: it gets no Archive capability.
    #[default]
    None,
    /// Read its files (`ArchiveRead`).
    Read,
    /// Read its files and make processes of its programs.
    Spawn,
}

impl Archive {
    /// The word for it in the compact form and the TOML file.
    pub const fn word(self) -> &'static str {
        match self {
            Archive::None => "none",
            Archive::Read => "read",
            Archive::Spawn => "spawn",
        }
    }

    pub fn from_word(word: &str) -> Option<Archive> {
        [Archive::None, Archive::Read, Archive::Spawn].into_iter().find(|a| a.word() == word)
    }

    /// The rights of the Archive capability it is given, if any.
    pub const fn rights(self) -> Option<crate::cap::Rights> {
        match self {
            Archive::None => None,
            Archive::Read => Some(crate::cap::Rights::READ),
            Archive::Spawn => Some(crate::cap::Rights::READ.union(crate::cap::Rights::WRITE)),
        }
    }
}

/// How init restarts a supervised program that faults or exits: at most `limit` times, each
/// after `backoff_ms` milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    pub limit: u32,
    pub backoff_ms: u32,
}

/// A comma-separated list as written in the compact form (already checked when parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct List<'a>(&'a str);

impl<'a> List<'a> {
    /// The list whose items are joined by commas in `text` (empty for none).
    pub const fn new(text: &'a str) -> Self {
        List(text)
    }

    pub fn as_str(&self) -> &'a str {
        self.0
    }

    pub fn items(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.split(',').filter(|s| !s.is_empty())
    }

    pub fn len(&self) -> usize {
        self.items().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, item: &str) -> bool {
        self.items().any(|i| i == item)
    }

    /// The I/O port ranges of a `ports` list, as inclusive (first, last).
    pub fn port_ranges(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        self.items().filter_map(parse_range)
    }

    /// The interrupt lines of an `irqs` list.
    pub fn lines(&self) -> impl Iterator<Item = u8> + 'a {
        self.items().filter_map(|i| i.parse().ok())
    }
}

/// One program of the system, as its line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Program<'a> {
    /// The boot program (`bin/NAME`), which is also the process's name.
    pub name: &'a str,
    pub priority: u8,
    /// Its Memory quota in bytes: its image, stack and IPC buffer, and all it maps or makes.
    pub memory: u64,
    /// Its start arguments, `:`-separated (as in a `run=` word).
    pub args: &'a str,
    /// The services it may look up, and those it registers.
    pub uses: List<'a>,
    pub provides: List<'a>,
    /// I/O port ranges (`0x3f8-0x3ff`) and interrupt lines it owns.
    pub ports: List<'a>,
    pub irqs: List<'a>,
    /// Supervised: restarted after a fault or an exit. None: left ended.
    pub restart: Option<Restart>,
    /// What it may do with the boot archive.
    pub archive: Archive,
    /// It gets the introspection capability (process lists, other processes' capabilities).
    pub introspect: bool,
    /// The bytes of its store (a multiple of the page size), 0 for none.
    pub store: u64,
    /// The settings key prefixes it may write (`system.`, `weather.`).
    pub writes: List<'a>,
    /// Its Android uid, as the compat server reports it to the binders it calls:
    /// [`SYSTEM_UID`] unless the description gives a legacy app its own (10000 and up).
    pub uid: u32,
}

/// The uid of every program the description gives none: Android's `AID_SYSTEM`.
pub const SYSTEM_UID: u32 = 1000;

/// What is wrong with a description, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemError<'a> {
    /// The program the problem is in, if it is in one.
    pub program: Option<&'a str>,
    pub problem: Problem<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem<'a> {
    /// The first line is not [`HEADER`].
    Header,
    /// A line that is not `program ...`, a word that is no known key, a value that does not
    /// read as its key's type.
    Syntax(&'a str),
    /// A name that is empty, too long, or has characters other than `a-z 0-9 - _`.
    BadName(&'a str),
    /// A `writes` item that is not a settings key prefix.
    BadPrefix(&'a str),
    /// A required key is missing (`name`, `priority`, `memory`).
    Missing(&'static str),
    /// More than the layout allows of something (programs, services, ranges, lines).
    TooMany(&'static str),
    /// Two programs of the same name.
    DuplicateProgram,
    /// A service provided twice (by this program, or by it and another).
    DuplicateService(&'a str),
    /// A program provides [`INIT_SERVICE`], which is init's.
    InitsService,
    /// A `uses` that no program provides.
    Unprovided(&'a str),
    /// A `uses` of a service whose program starts later: a dependency loop, or out of order.
    StartsLater(&'a str),
    /// The program that provides [`NAME_SERVICE`] is not the first.
    NameServerNotFirst,
    /// A port range that is backwards or past the last I/O port.
    BadPorts(&'a str),
    /// Ports that another program (named) also owns.
    PortsOverlap(&'a str),
    /// An interrupt line that does not exist, or is the cascade (2).
    BadIrq(u8),
    /// An interrupt line that another program (named) also owns.
    IrqTaken(u8, &'a str),
}

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Problem::Header => write!(f, "the first line is not \"{HEADER}\""),
            Problem::Syntax(word) => write!(f, "cannot read \"{word}\""),
            Problem::BadName(name) => {
                write!(f, "\"{name}\" is not a name (1 to {NAME_MAX} of a-z, 0-9, '-', '_')")
            }
            Problem::Missing(key) => write!(f, "no {key} given"),
            Problem::BadPrefix(p) => write!(f, "\"{p}\" is not a settings key prefix (like \"weather.\")"),
            Problem::TooMany(what) => write!(f, "too many {what}"),
            Problem::DuplicateProgram => write!(f, "listed twice"),
            Problem::DuplicateService(s) => write!(f, "provides '{s}', which is provided twice"),
            Problem::InitsService => write!(f, "provides '{INIT_SERVICE}', which is init's own"),
            Problem::Unprovided(s) => write!(f, "uses '{s}', which no program provides"),
            Problem::StartsLater(s) => {
                write!(f, "uses '{s}', whose program would have to start first: a dependency loop")
            }
            Problem::NameServerNotFirst => write!(f, "provides '{NAME_SERVICE}', so it must start first"),
            Problem::BadPorts(r) => write!(f, "\"{r}\" is not a range of I/O ports (0x0-0x3ff)"),
            Problem::PortsOverlap(other) => write!(f, "its I/O ports overlap those of '{other}'"),
            Problem::BadIrq(line) => write!(f, "interrupt line {line} cannot be given (0-15, not 2)"),
            Problem::IrqTaken(line, other) => write!(f, "interrupt line {line} is also given to '{other}'"),
        }
    }
}

impl fmt::Display for SystemError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.program {
            Some(p) => write!(f, "program '{p}': {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

/// Whether `s` may name a program or a service.
pub fn is_name(s: &str) -> bool {
    (1..=NAME_MAX).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `first-last` (each decimal or `0x` hex), inclusive, within the I/O port space.
fn parse_range(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.split_once('-')?;
    let (first, last) = (parse_number(a)?, parse_number(b)?);
    (first <= last && last < crate::cap::IO_PORTS_END).then_some((first as u16, last as u16))
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl<'a> Program<'a> {
    /// Reads one `program ...` line; checks each value, not the program's neighbours.
    pub fn parse(line: &'a str) -> Result<Program<'a>, SystemError<'a>> {
        let mut words = line.split_whitespace();
        let syntax = |w| SystemError { program: None, problem: Problem::Syntax(w) };
        if words.next() != Some("program") {
            return Err(syntax(line));
        }
        let (mut name, mut priority, mut memory) = (None, None, None);
        let mut p = Program {
            name: "",
            priority: 0,
            memory: 0,
            args: "",
            uses: List::default(),
            provides: List::default(),
            ports: List::default(),
            irqs: List::default(),
            restart: None,
            archive: Archive::None,
            introspect: false,
            store: 0,
            writes: List::default(),
            uid: SYSTEM_UID,
        };
        for word in words {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            match key {
                "name" => name = Some(value),
                "priority" => priority = Some(value.parse().map_err(|_| syntax(word))?),
                "memory" => memory = Some(value.parse().map_err(|_| syntax(word))?),
                "store" => match value.parse::<u64>() {
                    Ok(bytes) if bytes > 0 && bytes.is_multiple_of(crate::layout::PAGE_SIZE) => p.store = bytes,
                    _ => return Err(syntax(word)),
                },
                "args" => p.args = value,
                "uses" => p.uses = List(value),
                "provides" => p.provides = List(value),
                "ports" => p.ports = List(value),
                "irqs" => p.irqs = List(value),
                "writes" => p.writes = List(value),
                "uid" => p.uid = value.parse().map_err(|_| syntax(word))?,
                "restart" => {
                    let (limit, backoff) = value.split_once('/').ok_or(syntax(word))?;
                    let limit = limit.parse().map_err(|_| syntax(word))?;
                    let backoff_ms = backoff.parse().map_err(|_| syntax(word))?;
                    p.restart = Some(Restart { limit, backoff_ms });
                }
                "archive" => p.archive = Archive::from_word(value).ok_or(syntax(word))?,
                "introspect" if value.is_empty() => p.introspect = true,
                _ => return Err(syntax(word)),
            }
        }
        p.name = name.ok_or(SystemError { program: None, problem: Problem::Missing("name") })?;
        let here = |problem| SystemError { program: Some(p.name), problem };
        if !is_name(p.name) {
            return Err(SystemError { program: None, problem: Problem::BadName(p.name) });
        }
        p.priority = priority.ok_or(here(Problem::Missing("priority")))?;
        p.memory = memory.ok_or(here(Problem::Missing("memory")))?;
        if let Some(bad) = p.uses.items().chain(p.provides.items()).find(|n| !is_name(n)) {
            return Err(here(Problem::BadName(bad)));
        }
        if let Some(bad) = p.writes.items().find(|w| !crate::proto::settings::is_prefix(w)) {
            return Err(here(Problem::BadPrefix(bad)));
        }
        if let Some(bad) = p.ports.items().find(|r| parse_range(r).is_none()) {
            return Err(here(Problem::BadPorts(bad)));
        }
        for item in p.irqs.items() {
            match item.parse::<u8>() {
                Ok(line) if u64::from(line) < crate::cap::IRQ_LINES && line != 2 => {}
                Ok(line) => return Err(here(Problem::BadIrq(line))),
                Err(_) => return Err(syntax(item)),
            }
        }
        let limits = [
            (p.provides.len(), PROVIDES_MAX, "services provided"),
            (p.ports.len(), PORT_RANGES_MAX, "port ranges"),
            (p.irqs.len(), IRQS_MAX, "interrupt lines"),
        ];
        if let Some(&(_, _, what)) = limits.iter().find(|(n, max, _)| n > max) {
            return Err(here(Problem::TooMany(what)));
        }
        Ok(p)
    }
}

impl fmt::Display for Program<'_> {
    /// The program's line in the compact form.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "program name={} priority={} memory={}", self.name, self.priority, self.memory)?;
        let lists = [("args", self.args), ("uses", self.uses.0), ("provides", self.provides.0)];
        let lists =
            lists.into_iter().chain([("ports", self.ports.0), ("irqs", self.irqs.0), ("writes", self.writes.0)]);
        for (key, value) in lists.filter(|(_, v)| !v.is_empty()) {
            write!(f, " {key}={value}")?;
        }
        if let Some(r) = self.restart {
            write!(f, " restart={}/{}", r.limit, r.backoff_ms)?;
        }
        if self.archive != Archive::None {
            write!(f, " archive={}", self.archive.word())?;
        }
        if self.introspect {
            write!(f, " introspect")?;
        }
        if self.store > 0 {
            write!(f, " store={}", self.store)?;
        }
        if self.uid != SYSTEM_UID {
            write!(f, " uid={}", self.uid)?;
        }
        Ok(())
    }
}

/// The programs of a description in start order, each line parsed as it is reached. Call
/// [`check`] first to know that every line reads and the system keeps the rules.
pub fn programs(text: &str) -> impl Iterator<Item = Result<Program<'_>, SystemError<'_>>> {
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(Program::parse)
}

/// Checks a whole description: the header, every line, and the rules between programs
/// (names unique, every service provided once and by a program that starts before its users,
/// ports and interrupt lines owned by one program each).
pub fn check(text: &str) -> Result<(), SystemError<'_>> {
    if text.lines().next().map(str::trim) != Some(HEADER) {
        return Err(SystemError { program: None, problem: Problem::Header });
    }
    let mut count = 0;
    for (i, p) in programs(text).enumerate() {
        let p = p?;
        count += 1;
        if count > PROGRAMS_MAX {
            return Err(SystemError { program: None, problem: Problem::TooMany("programs") });
        }
        let here = |problem| Err(SystemError { program: Some(p.name), problem });
        // Every earlier program already passed `Program::parse`.
        let earlier = || programs(text).take(i).flatten();
        if earlier().any(|e| e.name == p.name) {
            return here(Problem::DuplicateProgram);
        }
        if i > 0 && p.provides.contains(NAME_SERVICE) && !earlier().any(|e| e.provides.contains(NAME_SERVICE)) {
            return here(Problem::NameServerNotFirst);
        }
        for (j, s) in p.provides.items().enumerate() {
            if s == INIT_SERVICE {
                return here(Problem::InitsService);
            }
            if p.provides.items().take(j).any(|t| t == s) || earlier().any(|e| e.provides.contains(s)) {
                return here(Problem::DuplicateService(s));
            }
        }
        for s in p.uses.items() {
            if s == INIT_SERVICE || earlier().any(|e| e.provides.contains(s)) {
                continue;
            }
            let later = programs(text).skip(i).flatten().any(|l| l.provides.contains(s));
            return here(if later { Problem::StartsLater(s) } else { Problem::Unprovided(s) });
        }
        let overlaps = |a: (u16, u16), b: (u16, u16)| a.0 <= b.1 && b.0 <= a.1;
        for (j, r) in p.ports.port_ranges().enumerate() {
            if p.ports.port_ranges().take(j).any(|s| overlaps(r, s)) {
                return here(Problem::PortsOverlap(p.name));
            }
            if let Some(e) = earlier().find(|e| e.ports.port_ranges().any(|s| overlaps(r, s))) {
                return here(Problem::PortsOverlap(e.name));
            }
        }
        for (j, line) in p.irqs.lines().enumerate() {
            if p.irqs.lines().take(j).any(|l| l == line) {
                return here(Problem::IrqTaken(line, p.name));
            }
            if let Some(e) = earlier().find(|e| e.irqs.lines().any(|l| l == line)) {
                return here(Problem::IrqTaken(line, e.name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
