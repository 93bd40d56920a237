//! The shell's commands: each a name, its arguments, a line of help, and a function. A
//! function's error is printed after the command's name, on one line.

use crate::Shell;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::cap::Rights;
use ipc::proto::init::{self as init_proto, ChildInfo, Request, State};
use ipc::system::slots;
use ipc::Error;
use rt::name::NameServer;
use rt::sys;
use rt::{ipc, println};

type Run = fn(&Shell, &[&str]) -> Result<(), String>;

/// (name, arguments, what it does, how)
const COMMANDS: &[(&str, &str, &str, Run)] = &[
    ("help", "", "list the commands", help),
    ("echo", "[WORD...]", "print the words", echo),
    ("ps", "", "list the processes: id, name, state, priority, memory charged", ps),
    ("caps", "PID", "list a process's capabilities: slot, kind, rights, badge", caps),
    ("services", "", "list the registered service names and their generations", services),
    ("kill", "NAME|PID", "end a program init runs (a supervised one comes back)", kill),
    ("restart", "NAME", "end a program init runs and start it again at once", restart),
    ("settings", "get|set|del|list|watch ...", "read and write settings (settings help)", crate::settings::run),
    ("weather", "[CITY [DAYS] | watch CITY]", "the cities, a city's weather now and its forecast", crate::weather::run),
    (
        "gallery",
        "albums|mkalbum|rmalbum|ls|add|rm|thumb|search ...",
        "albums and photos (gallery help)",
        crate::gallery::run,
    ),
    (
        "compat",
        "services|routes|stats|route IFACE legacy|native",
        "the Android-service compatibility server",
        crate::compat::run,
    ),
    ("mem", "", "free memory and the kernel heap in use", mem),
    ("uptime", "", "time since boot", uptime),
];

impl Shell {
    /// Runs one command line.
    pub fn run(&self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&command, args)) = words.split_first() else { return };
        match COMMANDS.iter().find(|c| c.0 == command) {
            None => println!("{command}: unknown command (type help)"),
            Some(&(name, _, _, run)) => {
                if let Err(e) = run(self, args) {
                    println!("{name}: {e}");
                }
            }
        }
    }

    /// Asks init's service; the answer, or why there is none.
    fn ask_init(&self, request: Request) -> Result<ipc::proto::Message, String> {
        let init = self.init.ok_or("this shell is not given init's service")?;
        rt::init::ask(init, request).map_err(|e| format!("init: {e}"))
    }

    /// Init's children, as its service lists them.
    fn children(&self) -> Result<Vec<(String, ChildInfo)>, String> {
        let init = self.init.ok_or("this shell is not given init's service")?;
        let mut all = Vec::new();
        for i in 0.. {
            match rt::init::child(init, i).map_err(|e| format!("init: {e}"))? {
                Some(child) => all.push(child),
                None => break,
            }
        }
        Ok(all)
    }
}

fn no_arguments(args: &[&str], usage: &str) -> Result<(), String> {
    match args {
        [] => Ok(()),
        _ => Err(format!("usage: {usage}")),
    }
}

fn help(_: &Shell, args: &[&str]) -> Result<(), String> {
    no_arguments(args, "help")?;
    for (name, usage, what, _) in COMMANDS {
        let call = if usage.is_empty() { String::from(*name) } else { format!("{name} {usage}") };
        println!("  {call:<18} {what}");
    }
    Ok(())
}

fn echo(_: &Shell, args: &[&str]) -> Result<(), String> {
    println!("{}", args.join(" "));
    Ok(())
}

fn ps(_: &Shell, args: &[&str]) -> Result<(), String> {
    no_arguments(args, "ps")?;
    println!("  PID  NAME                      STATE    PRIO  MEMORY");
    for i in 0.. {
        match sys::process_info(slots::INTROSPECT, i) {
            Ok(p) => {
                let mut buf = [0; 64];
                let (name, state) = (p.name(&mut buf), p.state);
                let kib = p.charged / 1024;
                println!("{:>5}  {name:<24}  {:<7}  {:>4}  {kib} KiB", p.pid, state.state.name(), state.priority);
            }
            Err(Error::NotFound) => return Ok(()),
            Err(e) => return Err(format!("{e} (is this shell given the introspection capability?)")),
        }
    }
    Ok(())
}

fn rights(r: Rights) -> String {
    [(Rights::READ, 'r'), (Rights::WRITE, 'w'), (Rights::GRANT, 'g')]
        .iter()
        .map(|&(right, c)| if r.contains(right) { c } else { '-' })
        .collect()
}

fn caps(_: &Shell, args: &[&str]) -> Result<(), String> {
    let [pid] = args else { return Err("usage: caps PID".into()) };
    let pid: u64 = pid.parse().map_err(|_| format!("\"{pid}\" is not a process id"))?;
    let mut slot = 0;
    let mut shown = 0;
    loop {
        match sys::cap_read(slots::INTROSPECT, pid, slot) {
            Ok((at, cap)) => {
                let badge = if cap.badge == 0 { String::new() } else { format!("{:#x}", cap.badge) };
                if shown == 0 {
                    println!("  SLOT  KIND          RIGHTS  BADGE");
                }
                println!("{at:>6}  {:<12}  {:<6}  {badge}", cap.kind.name(), rights(cap.rights));
                shown += 1;
                slot = at + 1;
            }
            Err(Error::NotFound) if shown == 0 => return Err(format!("no process {pid}, or it holds nothing")),
            Err(Error::NotFound) => return Ok(()),
            Err(e) => return Err(format!("{e} (is this shell given the introspection capability?)")),
        }
    }
}

fn services(_: &Shell, args: &[&str]) -> Result<(), String> {
    no_arguments(args, "services")?;
    println!("  NAME                      GENERATION");
    for i in 0.. {
        match NameServer::GIVEN.list(i).map_err(|e| format!("name server: {e}"))? {
            Some((name, generation)) => println!("  {:<24}  {generation}", name.as_str()),
            None => break,
        }
    }
    Ok(())
}

/// The program init runs under `target`, a name or a process id.
fn program(shell: &Shell, target: &str) -> Result<String, String> {
    let Ok(pid) = target.parse::<u32>() else { return Ok(target.into()) };
    let children = shell.children()?;
    let found = children.into_iter().find(|(_, c)| c.pid == pid && c.state == State::Running);
    found.map(|(name, _)| name).ok_or_else(|| format!("process {pid} is not a program init runs"))
}

fn kill(shell: &Shell, args: &[&str]) -> Result<(), String> {
    let [target] = args else { return Err("usage: kill NAME|PID".into()) };
    let name = program(shell, target)?;
    let answer = shell.ask_init(Request::Kill(&name))?;
    init_proto::read_done(&answer).map_err(|e| format!("{name}: {e}"))?;
    println!("{name}: killed");
    Ok(())
}

fn restart(shell: &Shell, args: &[&str]) -> Result<(), String> {
    let [name] = args else { return Err("usage: restart NAME".into()) };
    let answer = shell.ask_init(Request::Restart(name))?;
    init_proto::read_done(&answer).map_err(|e| format!("{name}: {e}"))?;
    println!("{name}: restarted");
    Ok(())
}

fn mem(_: &Shell, args: &[&str]) -> Result<(), String> {
    no_arguments(args, "mem")?;
    let (free_frames, heap) = sys::mem_stats();
    println!("free memory {} KiB ({} frames), kernel heap {} KiB in use", free_frames * 4, free_frames, heap / 1024);
    Ok(())
}

fn uptime(_: &Shell, args: &[&str]) -> Result<(), String> {
    no_arguments(args, "uptime")?;
    let ms = sys::micros_since_boot() / 1000;
    println!("up {}.{:03} s", ms / 1000, ms % 1000);
    Ok(())
}
