//! The operations the bench measures: each one's request (in-process, as an API Gateway
//! event for a function binary, and as plain HTTP for the local API), the function that
//! serves it, and its DynamoDB round-trip budget.

use axum::http::Method;
use serde_json::{json, Value};
use userhub_tests::{fresh_ip, lambda_emulator::apigw_v2_request, PASSWORD};

use crate::fixture::Fixture;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Register,
    Login,
    Refresh,
    Me,
    GetUser,
    PatchUser,
    ListPage,
    SearchPage,
    Stats,
    CreateExport,
}

pub struct Endpoint {
    pub op: Op,
    pub name: &'static str,
    /// The function binary that serves it on Lambda.
    pub function: &'static str,
    /// DynamoDB round trips it may make: the budgets for GET /users/{id} and login; GET
    /// /auth/me is the same read of one user with its session check; for the others, the
    /// steps of the flow as ARCHITECTURE.md describes it (the session check, a rate-limit
    /// hit, the reads a conditional write needs, the write).
    pub budget: usize,
    pub status: u16,
}

pub const ENDPOINTS: [Endpoint; 10] = [
    Endpoint {
        op: Op::Register,
        name: "POST /auth/register",
        function: "userhub-auth",
        // The rate limit, the user's creation, then its verification link (token and
        // pointer) before the mail goes out.
        budget: 3,
        status: 201,
    },
    Endpoint {
        op: Op::Login,
        name: "POST /auth/login",
        function: "userhub-auth",
        budget: 4,
        status: 200,
    },
    Endpoint {
        op: Op::Refresh,
        name: "POST /auth/refresh",
        function: "userhub-auth",
        budget: 4,
        status: 200,
    },
    Endpoint {
        op: Op::Me,
        name: "GET /auth/me",
        function: "userhub-auth",
        budget: 1,
        status: 200,
    },
    Endpoint {
        op: Op::GetUser,
        name: "GET /users/{id}",
        function: "userhub-users",
        budget: 1,
        status: 200,
    },
    Endpoint {
        op: Op::PatchUser,
        name: "PATCH /users/{id}",
        function: "userhub-users",
        budget: 3,
        status: 200,
    },
    Endpoint {
        op: Op::ListPage,
        name: "GET /users (page of 20)",
        function: "userhub-users",
        budget: 2,
        status: 200,
    },
    Endpoint {
        op: Op::SearchPage,
        name: "POST /users/search (page of 20)",
        function: "userhub-users",
        budget: 2,
        status: 200,
    },
    Endpoint {
        op: Op::Stats,
        name: "GET /stats/users",
        function: "userhub-users",
        budget: 2,
        status: 200,
    },
    Endpoint {
        op: Op::CreateExport,
        name: "POST /exports",
        function: "userhub-exports",
        budget: 2,
        status: 202,
    },
];

pub fn endpoint(op: Op) -> &'static Endpoint {
    ENDPOINTS
        .iter()
        .find(|e| e.op == op)
        .expect("every op is listed")
}

/// One request, whatever carries it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub bearer: Option<String>,
    pub body: Option<Value>,
}

impl Req {
    fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: String::new(),
            bearer: None,
            body: None,
        }
    }

    fn bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_owned());
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn query(mut self, q: &str) -> Self {
        self.query = q.to_owned();
        self
    }

    /// The path and query, as a URL's.
    pub fn uri(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// An API Gateway HTTP API (payload 2.0) event for this request.
    pub fn event(&self, request_id: &str) -> Value {
        let route = format!("{} {}", self.method, self.path);
        let ip = fresh_ip().map(|b| b.to_string()).join(".");
        let mut event = apigw_v2_request(self.method.as_str(), &self.path, &route, request_id, &ip);
        event["rawQueryString"] = json!(self.query);
        let headers = &mut event["headers"];
        if let Some(token) = &self.bearer {
            headers["authorization"] = json!(format!("Bearer {token}"));
        }
        if let Some(body) = &self.body {
            let text = body.to_string();
            headers["content-type"] = json!("application/json");
            headers["content-length"] = json!(text.len().to_string());
            event["body"] = json!(text);
        }
        event
    }

    /// Sends it to the in-process API; returns the status and JSON body.
    pub async fn send_in_process(&self, fx: &Fixture) -> (u16, Value) {
        let mut r = fx
            .app
            .request(self.method.clone(), &self.uri())
            .from_ip(fresh_ip());
        if let Some(token) = &self.bearer {
            r = r.bearer(token);
        }
        if let Some(body) = &self.body {
            r = r.json(body);
        }
        let res = r.send().await;
        let body = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
        (res.status.as_u16(), body)
    }
}

impl Endpoint {
    /// The `i`th request of this operation.
    pub fn request(&self, fx: &Fixture, i: usize) -> Req {
        let admin = fx.admin_token.as_str();
        let user = format!("/users/{}", fx.target_id);
        match self.op {
            Op::Register => {
                let tag = uuid::Uuid::now_v7().simple().to_string();
                Req::new(Method::POST, "/auth/register").json(json!({
                    "email": format!("r{tag}@example.com"),
                    "username": format!("r{}", &tag[12..]),
                    "password": PASSWORD,
                }))
            }
            Op::Login => Req::new(Method::POST, "/auth/login").json(fx.login_body()),
            Op::Refresh => {
                let token = fx.refresh_token.lock().expect("not poisoned").clone();
                Req::new(Method::POST, "/auth/refresh").json(json!({"refresh_token": token}))
            }
            Op::Me => Req::new(Method::GET, "/auth/me").bearer(&fx.reader_token),
            Op::GetUser => Req::new(Method::GET, user).bearer(admin),
            Op::PatchUser => Req::new(Method::PATCH, user)
                .bearer(admin)
                .json(json!({"display_name": format!("Bench {}", i % 1000)})),
            Op::ListPage => Req::new(Method::GET, "/users")
                .query("limit=20")
                .bearer(admin),
            Op::SearchPage => Req::new(Method::POST, "/users/search")
                .bearer(admin)
                .json(json!({"status": "active", "limit": 20})),
            Op::Stats => Req::new(Method::GET, "/stats/users").bearer(admin),
            Op::CreateExport => Req::new(Method::POST, "/exports")
                .bearer(admin)
                .json(json!({"format": "csv", "fields": "minimal"})),
        }
    }

    /// Checks an answer and keeps what the next request needs (the rotated refresh token).
    pub fn observe(&self, fx: &Fixture, status: u16, body: &Value) -> Result<(), String> {
        if status != self.status {
            return Err(format!("{}: answered {status}: {body}", self.name));
        }
        if self.op == Op::Refresh {
            let next = body["refresh_token"]
                .as_str()
                .ok_or_else(|| format!("{}: no refresh_token in {body}", self.name))?;
            *fx.refresh_token.lock().expect("not poisoned") = next.to_owned();
        }
        Ok(())
    }
}
