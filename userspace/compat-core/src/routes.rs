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
