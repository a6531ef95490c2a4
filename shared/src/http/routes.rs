//! A function's route table: the one list of `(method, path)` its router is built from.
//!
//! Every route is added through [`Routes`], which records it and wires its handler in the
//! same call, so the table cannot drift from what the router serves. The drift test
//! (`tests/tests/conformance.rs`) compares these tables with `openapi.yaml` and with the
//! `HttpApi` events of `template.yaml`. Adding an endpoint is one line in its function's
//! `routes()`, e.g. `.post("/imports", create)`.

use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;

use crate::AppState;

/// One served route: an HTTP method and an axum path template (`/users/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

/// A router together with the table of the routes it serves.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    table: Vec<Route>,
}

macro_rules! method {
    ($($name:ident => $method:ident),* $(,)?) => {$(
        #[doc = concat!("Serves `", stringify!($method), " path` with `handler`.")]
        pub fn $name<H, T>(self, path: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.on(MethodFilter::$method, stringify!($method), path, handler)
        }
    )*};
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    method!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);

    fn on<H, T>(
        mut self,
        filter: MethodFilter,
        method: &'static str,
        path: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        // axum merges a second method on a path into the first one's method router.
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(Route { method, path });
        self
    }

    /// Both tables in one router (the local API serves every function at once).
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// The routes every function serves besides its own: `/health`.
    pub fn with_common(self) -> Self {
        self.get("/health", super::health::health)
    }

    /// What this router serves, sorted.
    pub fn table(&self) -> Vec<Route> {
        let mut table = self.table.clone();
        table.sort();
        table
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
