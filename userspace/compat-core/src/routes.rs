//! What every routed interface shares: which backend answers it, and how a backend fails.

/// Which backend answers an interface's calls: the legacy implementation inside compat, or
/// the native Seam server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Legacy,
    Native,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Legacy => "legacy",
            Route::Native => "native",
        }
    }

    pub fn named(name: &str) -> Option<Route> {
        [Route::Legacy, Route::Native].into_iter().find(|r| r.name() == name)
    }
}

/// Why a backend did not answer: it refused with its protocol's error, or it is gone (the
/// native server died with the call; the caller hears `DEAD_OBJECT`, and a retry reaches
/// its next instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure<E> {
    Refused(E),
    Gone,
}

/// A routed interface's bookkeeping: its route, the backend calls made on each route, and
/// whether the call being answered found its backend gone.
#[derive(Debug)]
pub struct Routing {
    pub route: Route,
    /// Backend calls made on each route: [legacy, native].
    pub served: [u64; 2],
    gone: bool,
}

impl Routing {
    pub fn new(route: Route) -> Routing {
        Routing { route, served: [0; 2], gone: false }
    }

    /// The route one backend call takes, counted.
    pub fn pick(&mut self) -> Route {
        self.served[self.route as usize] += 1;
        self.route
    }

    /// What a backend answered, as the call's result (`refused` makes its AIDL status); a
    /// gone backend marks the call, which then answers `DEAD_OBJECT` ([`Routing::end`]).
    pub fn answer<T, E: PartialEq>(
        &mut self,
        r: Result<T, Failure<E>>,
        refused: impl FnOnce(Failure<E>) -> binder::Status,
    ) -> Result<T, binder::Status> {
        if r.as_ref().is_err_and(|e| *e == Failure::Gone) {
            self.gone = true;
        }
        r.map_err(refused)
    }

    /// A call begins.
    pub fn begin(&mut self) {
        self.gone = false;
    }

    /// A call ends with `result`, unless its backend was gone.
    pub fn end(&mut self, result: Result<(), binder::StatusCode>) -> Result<(), binder::StatusCode> {
        match core::mem::take(&mut self.gone) {
            true => Err(binder::StatusCode::DeadObject),
            false => result,
        }
    }
}
