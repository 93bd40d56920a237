//! `compat`, the Android-service compatibility server: the Binder driver and ServiceManager
//! of `compat-core`, serving legacy programs over `ipc::proto::compat`. All of the Binder
//! model is in `compat-core` (host-tested); this process only moves messages, Frames and
//! reply capabilities, and tells the core who calls and who died.
//!
//! - **Who calls.** A program is known by the badge of its capability to the service. Its
//!   uid is its entry's `uid` in the system description (read from the boot archive), its pid
//!   the process init reports for it (`CHILD`). Nothing a client says about itself counts.
//! - **Waiting.** A client whose command leaves it waiting (a two-way call, a blocking
//!   `WAIT`) has its reply capability moved to a slot of its own; it is answered through it
//!   when a return for it comes, whoever's command made it.
//! - **Frames.** A client's Frame (given at `CONNECT`) stays mapped at a window of its own
//!   while it is connected; Parcels too large for a message go through it both ways.
//! - **Deaths.** Init signals a notification with the bit of each program that ends
//!   (`ipc::proto::init::WATCH`); a client whose process is no longer the one init runs is
//!   disconnected, which sends the obituaries of its binders.
//! - **Services.** Compat hosts `weather` (`com.example.weather.IWeatherService`,
//!   `compat_core::weather`) and `gallery` (`com.example.gallery.IGalleryService`,
//!   `compat_core::gallery`), each answered by its legacy implementation inside compat or by
//!   Seam's native server, as the setting `compat.route.NAME` says (`legacy`, the default, or
//!   `native`); compat watches the keys, and the gallery's albums move with its route. Its
//!   timer turns with the model's hours, to tell weather listeners of changes.
#![no_std]
#![no_main]

extern crate alloc;

mod clients;
mod native;

use alloc::vec::Vec;
use clients::Clients;
use compat_core::driver::{ClientId, Delivery, Identity};
use compat_core::gallery::GalleryService;
use compat_core::services::{self, Services};
use compat_core::weather::{LegacyWeather, Route, WeatherService};
use compat_core::wire::{self, Incoming};
use compat_core::Compat;
use ipc::cap::{Kind, Slot};
use ipc::msg::LABEL_NOTIFICATION;
use ipc::proto::compat::{self as proto, CompatError};
use ipc::proto::init::State;
use ipc::proto::Long;
use ipc::system::{self, slots};
use rt::{cap, ipc, long, println, sys};

rt::main!(main);

/// Badge bits of the notification bound to the server's thread.
const DEATHS: u64 = 1;
const ROUTES: u64 = 2;
const TIMER: u64 = 4;

/// The settings keys that route the interfaces: `compat.route.NAME`.
const ROUTE_PREFIX: &str = "compat.route.";

struct Server {
    compat: Compat,
    host: Services,
    clients: Clients,
    /// The uid of program `n` of the description, at `n - 1`.
    uids: Vec<u32>,
    init: Slot,
    /// Init signals bit `i` here when its child `i` ends.
    deaths: Slot,
    settings: Option<Slot>,
    /// The server's notification, badged for its timer.
    timer: Slot,
}

fn main(args: rt::Args) -> u64 {
    let mut server = match Server::start(args.pid as u32) {
        Ok(s) => s,
        Err(e) => {
            println!("compat: {e}");
            return 1;
        }
    };
    let (reply, incoming) = match (cap::alloc(), cap::alloc()) {
        (Ok(r), Ok(i)) => (r, i),
        _ => {
            println!("compat: no slots");
            return 1;
        }
    };
    let mut answer: Option<Long> = None;
    loop {
        cap::set_recv_slot(0, incoming);
        let (badge, message) = match long::next_request(slots::SERVICE, reply, answer.take().as_ref()) {
            Ok(r) => r,
            Err(e) => {
                println!("compat: receive failed: {e}");
                return 1;
            }
        };
        if message.label == LABEL_NOTIFICATION {
            server.noticed(badge);
        } else {
            answer = server.request(badge, &message, reply, incoming);
        }
        if message.caps > 0 && sys::cap_inspect(incoming).is_ok() {
            let _ = sys::cap_delete(incoming);
        }
    }
}

impl Server {
    fn start(pid: u32) -> Result<Server, &'static str> {
        let text = rt::system::description()?;
        let uids = system::programs(&text).flatten().map(|p| p.uid).collect();
        let (init, _) =
            rt::name::lookup(system::INIT_SERVICE).map_err(|_| "init's service is not given (uses = [\"init\"])")?;
        let ntfn = cap::create(Kind::Notification, 0).map_err(|_| "no memory for a notification")?;
        sys::ntfn_bind(ntfn).map_err(|_| "cannot bind its notification")?;
        let deaths = cap::create(Kind::Notification, 0).map_err(|_| "no memory for a notification")?;
        let badged = |bit| cap::badged(ntfn, bit).map_err(|_| "cannot badge its notification");
        let doorbell = badged(DEATHS)?;
        rt::init::watch(init, deaths, doorbell).map_err(|_| "init refuses to report deaths")?;
        cap::release(doorbell);
        let (routes, timer) = (badged(ROUTES)?, badged(TIMER)?);
        // Without settings or the weather server (a test system may leave them out), the
        // route stays legacy, and a native route answers DEAD_OBJECT.
        let settings = rt::name::lookup("settings").ok().map(|(slot, _)| slot);
        if let Some(s) = settings {
            if rt::settings::watch(s, ROUTE_PREFIX, routes).is_err() {
                println!("compat: cannot watch compat.route.*; routes are fixed");
            }
        }
        let native = native::NativeWeather { endpoint: rt::name::lookup("weather").ok().map(|(slot, _)| slot) };
        let legacy = LegacyWeather {
            units: ipc::proto::weather::Units::Metric,
            clock: alloc::boxed::Box::new(sys::micros_since_boot),
        };
        let weather = WeatherService::new(legacy, alloc::boxed::Box::new(native), Route::Legacy);
        let native = native::NativeGallery {
            endpoint: rt::name::lookup("gallery").ok().map(|(slot, _)| slot),
            frame: rt::gallery::ThumbFrame::new().ok(),
        };
        let gallery = GalleryService::new(alloc::boxed::Box::new(native), Route::Legacy);
        let mut server = Server {
            compat: Compat::new(pid),
            host: Services { weather, gallery },
            clients: Clients::new(),
            uids,
            init,
            deaths,
            settings,
            timer,
        };
        for (name, ptr) in services::ALL {
            server.compat.add_own_service(name, ptr, &mut server.host);
        }
        server.read_routes();
        server.arm_timer();
        Ok(server)
    }

    /// Reads the routes from settings (a missing or unknown value is legacy). The gallery's
    /// state moves with its route; if it cannot (the native server is gone), the route
    /// stays, and is tried again at the next change of a route key.
    fn read_routes(&mut self) {
        let Some(settings) = self.settings else { return };
        let wanted = |name: &str| match rt::settings::get(settings, &alloc::format!("{ROUTE_PREFIX}{name}")) {
            Ok(rt::settings::Setting::Str(s)) => Route::named(&s).unwrap_or(Route::Legacy),
            _ => Route::Legacy,
        };
        let weather = wanted(services::WEATHER_NAME);
        if weather != self.host.weather.routing.route {
            println!("compat: weather is now {}", weather.name());
            self.host.weather.routing.route = weather;
        }
        let gallery = wanted(services::GALLERY_NAME);
        if gallery != self.host.gallery.route() {
            match self.host.gallery.switch(gallery) {
                Ok(()) => println!("compat: gallery is now {}, its albums with it", gallery.name()),
                Err(e) => println!("compat: gallery stays {}: {e:?}", self.host.gallery.route().name()),
            }
        }
    }

    /// Arms the timer for the next model hour.
    fn arm_timer(&self) {
        let now = sys::micros_since_boot();
        let next = (weather_model::slot_at(now) + 1) * weather_model::SLOT_MICROS;
        let _ = sys::timer_set(self.timer, next - now);
    }

    /// A request from the program of `badge`; the answer to send it now, or None if it waits
    /// (its reply capability, in `reply`, is kept).
    fn request(&mut self, badge: u64, m: &Long, reply: Slot, incoming: Slot) -> Option<Long> {
        // Program 0 is init, which is not a client (and 0 is compat's own id in the driver).
        let client = match system::caller(badge) {
            Some(n) if n > 0 => ClientId::from(n),
            _ => return Some(proto::refuse(CompatError::NotConnected)),
        };
        if let Some((label, index)) = proto::read_admin(m) {
            return Some(self.admin(label, index));
        }
        let (deliveries, now) = match self.read(client, m, incoming) {
            Ok(d) => d,
            Err(e) => return Some(proto::refuse(e)),
        };
        let mine = self.deliver(deliveries, Some(client)).or(now);
        if mine.is_none() && !self.clients.wait(client, reply) {
            // It cannot be kept waiting (no slot): the core still expects to answer it
            // later, so it is dropped as a client rather than left hanging.
            println!("compat: cannot keep program {client} waiting; disconnecting it");
            let d = self.disconnect(client);
            self.deliver(d, None);
            return Some(proto::refuse(CompatError::NotConnected));
        }
        mine
    }

    /// An administration request's answer (`ipc::proto::compat`'s `SERVICE`, `ROUTES`,
    /// `STATS`).
    fn admin(&self, label: u32, index: u64) -> Long {
        let at = usize::try_from(index).unwrap_or(usize::MAX);
        match label {
            proto::SERVICE => match self.compat.sm.services(&self.compat.driver).get(at) {
                Some(s) => proto::service_entry(&proto::ServiceEntry { name: &s.name, pid: s.pid, own: s.own }),
                None => proto::refuse(CompatError::NoSuchEntry),
            },
            proto::ROUTES => match self.host.routes().get(at) {
                Some(&(interface, route, served)) => {
                    proto::route_entry(&proto::RouteEntry { interface, native: route == Route::Native, served })
                }
                None => proto::refuse(CompatError::NoSuchEntry),
            },
            _ => proto::stats(&self.compat.stats()),
        }
    }

    /// Reads and carries out a request: the returns it made, and for a request that has no
    /// return (`CONNECT`) its answer.
    fn read(
        &mut self,
        client: ClientId,
        m: &Long,
        incoming: Slot,
    ) -> Result<(Vec<Delivery>, Option<Long>), CompatError> {
        match wire::read_request(m, self.clients.frame(client).as_deref())? {
            Incoming::Connect { android, frame_pages } => {
                let uid = *self.uids.get(client as usize - 1).ok_or(CompatError::NotConnected)?;
                let pid = self.pid_of(client).ok_or(CompatError::NotConnected)?;
                // A refused CONNECT leaves an earlier connection as it was.
                if frame_pages > 0 {
                    clients::check_frame(incoming, frame_pages)?;
                }
                let mut deliveries = self.disconnect(client);
                let frame_bytes = match frame_pages {
                    0 => 0,
                    pages => self.clients.map_frame(client, incoming, pages)?,
                };
                let id = Identity { uid, pid, android };
                let limits = wire::limits(frame_bytes);
                deliveries.extend(self.compat.connect(client, id, limits, &mut self.host));
                Ok((deliveries, Some(proto::connected(uid, pid))))
            }
            Incoming::Command { free, command } => {
                if !self.compat.driver.is_connected(client) {
                    return Err(CompatError::NotConnected);
                }
                Ok((self.compat.command(client, free, command, &mut self.host), None))
            }
        }
    }

    /// Sends each return to its client; the one for `sender` (whose call is in the reply
    /// slot) is handed back instead, to go out with the next receive.
    fn deliver(&mut self, deliveries: Vec<Delivery>, sender: Option<ClientId>) -> Option<Long> {
        let mut mine = None;
        for d in deliveries {
            let message = wire::write_return(&d.ret, self.clients.frame(d.to));
            if Some(d.to) == sender && mine.is_none() {
                mine = Some(message);
            } else if !self.clients.answer(d.to, &message) {
                println!("compat: a return for program {} that is not waiting (dropped)", d.to);
            }
        }
        mine
    }

    /// The process init runs as program `client` now, if it runs.
    fn pid_of(&self, client: ClientId) -> Option<u32> {
        match rt::init::child(self.init, u64::from(client) - 1) {
            Ok(Some((_, info))) if info.state == State::Running => Some(info.pid),
            _ => None,
        }
    }

    /// Forgets a client's process: its binders die, its Frame is unmapped, a call it waited
    /// in is dropped.
    fn disconnect(&mut self, client: ClientId) -> Vec<Delivery> {
        self.clients.forget(client);
        if !self.compat.driver.is_connected(client) {
            return Vec::new();
        }
        self.compat.disconnect(client, &mut self.host)
    }

    /// The notification: programs ended, a route changed, or the model's hour turned.
    fn noticed(&mut self, badge: u64) {
        if badge & ROUTES != 0 {
            self.read_routes();
        }
        if badge & TIMER != 0 {
            self.host.weather.tick(&mut self.compat.driver);
            let d = self.compat.settle(&mut self.host);
            self.deliver(d, None);
            self.arm_timer();
        }
        if badge & DEATHS == 0 {
            return;
        }
        let ended = sys::poll(self.deaths).unwrap_or(0);
        for i in (0..64).filter(|i| ended & 1 << i != 0) {
            let client = i + 1;
            let Some(id) = self.compat.driver.identity(client) else { continue };
            // The program may have been started again and connected already.
            if self.pid_of(client) != Some(id.pid) {
                let d = self.disconnect(client);
                self.deliver(d, None);
            }
        }
    }
}
