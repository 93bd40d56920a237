//! The compact form's round trip, each kind of mistake, the rules between programs, and
//! damaged text.

use super::*;
use std::format;
use std::string::String;

fn console() -> Program<'static> {
    Program {
        name: "console",
        priority: 200,
        memory: 256 * 1024,
        args: "",
        uses: List::new("name"),
        provides: List::new("console"),
        ports: List::new("0x3f8-0x3ff"),
        irqs: List::new("4"),
        restart: Some(Restart { limit: 3, backoff_ms: 100 }),
        archive: Archive::None,
        introspect: false,
        store: 0,
        writes: List::default(),
        uid: SYSTEM_UID,
    }
}

fn name_server() -> Program<'static> {
    Program {
        name: "name",
        priority: 220,
        memory: 128 * 1024,
        args: "",
        uses: List::default(),
        provides: List::new("name"),
        ports: List::default(),
        irqs: List::default(),
        restart: Some(Restart { limit: 3, backoff_ms: 0 }),
        archive: Archive::None,
        introspect: false,
        store: 0,
        writes: List::default(),
        uid: SYSTEM_UID,
    }
}

fn shell() -> Program<'static> {
    Program {
        name: "shell",
        priority: 100,
        memory: 1 << 20,
        args: "prompt:seam",
        uses: List::new("name,console"),
        provides: List::default(),
        ports: List::default(),
        irqs: List::default(),
        restart: None,
        archive: Archive::Spawn,
        introspect: true,
        store: 65536,
        writes: List::new("user.,weather."),
        uid: 10_042,
    }
}

fn system(programs: &[Program]) -> String {
    let mut text = format!("{HEADER}\n");
    for p in programs {
        text += &format!("{p}\n");
    }
    text
}

#[test]
fn every_program_round_trips_through_its_line() {
    for p in [console(), name_server(), shell()] {
        let line = format!("{p}");
        assert_eq!(Program::parse(&line), Ok(p), "{line}");
    }
    let text = system(&[name_server(), console(), shell()]);
    assert_eq!(check(&text), Ok(()));
    let back: std::vec::Vec<_> = programs(&text).map(Result::unwrap).collect();
    assert_eq!(back, [name_server(), console(), shell()]);
    assert_eq!(back[1].ports.port_ranges().collect::<std::vec::Vec<_>>(), [(0x3f8, 0x3ff)]);
    assert_eq!(back[1].irqs.lines().collect::<std::vec::Vec<_>>(), [4]);
}

#[test]
fn the_rules_between_programs() {
    // Leaked: the error borrows the text, and a test may keep it.
    let problem = |programs: &[Program]| {
        let text: &'static str = std::boxed::Box::leak(system(programs).into_boxed_str());
        check(text).err().map(|e| (e.program, e.problem))
    };
    let twice = problem(&[name_server(), name_server()]);
    assert_eq!(twice, Some((Some("name"), Problem::DuplicateProgram)));
    let early = problem(&[console(), name_server()]);
    assert_eq!(early, Some((Some("console"), Problem::StartsLater("name"))));
    assert_eq!(problem(&[console()]), Some((Some("console"), Problem::Unprovided("name"))));
    let mut second = console();
    second.name = "console2";
    second.irqs = List::new("3");
    let overlap = problem(&[name_server(), console(), second]);
    assert_eq!(overlap, Some((Some("console2"), Problem::DuplicateService("console"))));
    second.provides = List::default();
    second.ports = List::new("0x3f0-0x3f8");
    assert_eq!(
        problem(&[name_server(), console(), second]),
        Some((Some("console2"), Problem::PortsOverlap("console")))
    );
    second.ports = List::default();
    second.irqs = List::new("3,4");
    assert_eq!(problem(&[name_server(), console(), second]), Some((Some("console2"), Problem::IrqTaken(4, "console"))));
    let mut looped = name_server();
    looped.uses = List::new("console");
    assert_eq!(problem(&[looped, console()]), Some((Some("name"), Problem::StartsLater("console"))));
    let mut init_user = shell();
    init_user.uses = List::new("init");
    assert_eq!(problem(&[name_server(), init_user]), None, "init provides its own service");
    let mut impostor = name_server();
    impostor.provides = List::new("name,init");
    assert_eq!(problem(&[impostor]), Some((Some("name"), Problem::InitsService)));
    let mut plain = shell();
    plain.uses = List::default();
    let late = problem(&[plain, name_server()]);
    assert_eq!(late, Some((Some("name"), Problem::NameServerNotFirst)));
}

#[test]
fn bad_lines_are_errors_not_panics() {
    let bad = [
        ("program priority=1 memory=1", Problem::Missing("name")),
        ("program name=x memory=1", Problem::Missing("priority")),
        ("program name=x priority=300 memory=1", Problem::Syntax("priority=300")),
        ("program name=X priority=1 memory=1", Problem::BadName("X")),
        ("program name=x priority=1 memory=1 colour=red", Problem::Syntax("colour=red")),
        ("program name=x priority=1 memory=1 ports=0x400-0x401", Problem::BadPorts("0x400-0x401")),
        ("program name=x priority=1 memory=1 ports=9-8", Problem::BadPorts("9-8")),
        ("program name=x priority=1 memory=1 irqs=2", Problem::BadIrq(2)),
        ("program name=x priority=1 memory=1 irqs=16", Problem::BadIrq(16)),
        ("program name=x priority=1 memory=1 provides=a,b,c,d,e", Problem::TooMany("services provided")),
        ("program name=x priority=1 memory=1 restart=3", Problem::Syntax("restart=3")),
        ("program name=x priority=1 memory=1 archive", Problem::Syntax("archive")),
        ("program name=x priority=1 memory=1 archive=all", Problem::Syntax("archive=all")),
        ("program name=x priority=1 memory=1 store=100", Problem::Syntax("store=100")),
        ("program name=x priority=1 memory=1 store=0", Problem::Syntax("store=0")),
        ("program name=x priority=1 memory=1 writes=System.", Problem::BadPrefix("System.")),
        ("program name=x priority=1 memory=1 uid=-1", Problem::Syntax("uid=-1")),
        ("program name=x priority=1 memory=1 uid=app", Problem::Syntax("uid=app")),
        ("process name=x", Problem::Syntax("process name=x")),
    ];
    for (line, want) in bad {
        assert_eq!(Program::parse(line).map_err(|e| e.problem), Err(want), "{line}");
    }
    assert_eq!(check("seam-system 2\n").map_err(|e| e.problem), Err(Problem::Header));
    assert_eq!(check(""), Err(SystemError { program: None, problem: Problem::Header }));
    let many = system(&[]) + &"program name=a priority=1 memory=1\n".repeat(PROGRAMS_MAX + 1);
    assert!(check(&many).is_err());
}

#[test]
fn badges_carry_client_and_service_and_are_never_zero() {
    assert_ne!(badge(0, 0), 0);
    for (client, service) in [(0, 0), (1, 0), (31, 3), (255, 255)] {
        assert_eq!(unbadge(badge(client, service)), Some((client, service)));
    }
    assert_eq!(unbadge(0), None);
    assert_eq!(unbadge(7), None, "a badge some other scheme made");
    assert_eq!(unbadge(badge(1, 1) | 1 << 40), None);
    assert_eq!(caller(0), Some(0), "init");
    assert_eq!(caller(badge(5, 2)), Some(5));
    assert_eq!(caller(7), None);
}

#[test]
fn every_truncation_and_single_byte_corruption_is_survived() {
    let text = system(&[name_server(), console(), shell()]);
    for len in 0..text.len() {
        if text.is_char_boundary(len) {
            let _ = check(&text[..len]);
        }
    }
    for i in 0..text.len() {
        for b in [b' ', b'=', b',', b'-', b'0', b'x', b'\n', b'/'] {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = b;
            let t = String::from_utf8(bytes).unwrap();
            if check(&t).is_ok() {
                assert!(programs(&t).all(|p| p.is_ok()));
            }
        }
    }
}
