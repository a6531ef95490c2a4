//! No drift between what runs, what is documented and what is deployed.
//!
//! - The route tables the routers are built from (`userhub_local_api::functions()`, one
//!   `Routes` per function) serve exactly the paths and methods of `openapi.yaml`.
//! - Under `template.yaml`'s `HttpApi` events, with API Gateway's route selection, every
//!   route reaches the one function that serves it, and no event leads to a function that
//!   serves nothing under it.
//!
//! Pure: no stack needed. The last tests show that a route added to one source only fails.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

type Route = (String, String);

/// One `HttpApi` event: the function it invokes, its method (`ANY` too) and path.
#[derive(Debug, Clone)]
struct Event {
    function: String,
    method: String,
    path: String,
}

impl Event {
    fn is_greedy(&self) -> bool {
        self.path.ends_with("+}")
    }

    /// Whether API Gateway would consider this event for `method` on the concrete `path`.
    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "ANY" && self.method != method {
            return false;
        }
        let mut want = segments(path).into_iter();
        for seg in segments(&self.path) {
            if seg.ends_with("+}") {
                return want.next().is_some();
            }
            match want.next() {
                Some(w) if seg.starts_with('{') || seg == w => {}
                _ => return false,
            }
        }
        want.next().is_none()
    }

    /// API Gateway's preference among matching routes, lowest first: a full match beats
    /// one with path variables, which beats a greedy `{proxy+}`; a method beats `ANY`.
    fn rank(&self) -> (bool, usize, bool) {
        let vars = segments(&self.path)
            .iter()
            .filter(|s| s.starts_with('{'))
            .count();
        (self.is_greedy(), vars, self.method == "ANY")
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// A request path for a route template: each `{name}` becomes a value no literal equals.
fn concrete(template: &str) -> String {
    segments(template)
        .iter()
        .map(|s| {
            if s.starts_with('{') {
                "0193a1b2-sample".to_owned()
            } else {
                (*s).to_owned()
            }
        })
        .fold(String::new(), |acc, s| format!("{acc}/{s}"))
}

/// The event API Gateway picks for a route, or why there is none.
fn selected<'a>(events: &'a [Event], method: &str, template: &str) -> Result<&'a Event, String> {
    let path = concrete(template);
    let mut candidates: Vec<&Event> = events.iter().filter(|e| e.matches(method, &path)).collect();
    candidates.sort_by_key(|e| e.rank());
    match candidates.as_slice() {
        [] => Err("no HttpApi event routes it".into()),
        [best, next, ..] if best.rank() == next.rank() => Err(format!(
            "ambiguous: {} {} ({}) and {} {} ({})",
            best.method, best.path, best.function, next.method, next.path, next.function
        )),
        [best, ..] => Ok(best),
    }
}

/// Every way the three sources disagree; empty when they agree.
fn drift(
    served: &BTreeMap<String, BTreeSet<Route>>,
    spec: &BTreeSet<Route>,
    events: &[Event],
) -> Vec<String> {
    let mut problems = Vec::new();
    let all_served: BTreeSet<Route> = served.values().flatten().cloned().collect();
    for (m, p) in spec.difference(&all_served) {
        problems.push(format!(
            "{m} {p} is in openapi.yaml but no function serves it"
        ));
    }
    for (m, p) in all_served.difference(spec) {
        problems.push(format!("{m} {p} is served but not in openapi.yaml"));
    }
    let serves =
        |function: &str, route: &Route| served.get(function).is_some_and(|r| r.contains(route));
    let mut used = vec![false; events.len()];
    for (function, routes) in served {
        for route in routes {
            let (m, p) = route;
            match selected(events, m, p) {
                Err(why) => problems.push(format!("{m} {p} (served by {function}): {why}")),
                Ok(e) if !serves(&e.function, route) => problems.push(format!(
                    "{m} {p} is served by {function}, but API Gateway sends it to {} through {} {}",
                    e.function, e.method, e.path
                )),
                Ok(e) => {
                    let i = events
                        .iter()
                        .position(|x| std::ptr::eq(x, e))
                        .expect("selected from events");
                    used[i] = true;
                }
            }
        }
    }
    for (e, used) in events.iter().zip(used) {
        if !used {
            problems.push(format!(
                "the event {} {} reaches {}, which serves no route through it",
                e.method, e.path, e.function
            ));
        }
    }
    problems
}

fn root() -> std::path::PathBuf {
    userhub_tests::lambda_emulator::workspace_root()
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// What the route tables serve, per function.
fn served() -> BTreeMap<String, BTreeSet<Route>> {
    userhub_local_api::functions()
        .into_iter()
        .map(|(name, routes)| {
            let table = routes.with_common().table();
            let set = table
                .into_iter()
                .map(|r| (r.method.to_owned(), r.path.to_owned()))
                .collect();
            (name.to_owned(), set)
        })
        .collect()
}

fn spec_routes() -> BTreeSet<Route> {
    let doc = yaml("openapi.yaml");
    let paths = doc["paths"].as_mapping().expect("openapi.yaml has paths");
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    paths
        .iter()
        .flat_map(|(path, item)| {
            let path = path.as_str().expect("a path is a string").to_owned();
            let item = item.as_mapping().expect("a path item is a map");
            item.keys()
                .filter_map(|k| k.as_str())
                .filter(|k| methods.contains(k))
                .map(move |k| (k.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn template_events() -> Vec<Event> {
    let doc = yaml("template.yaml");
    let resources = doc["Resources"]
        .as_mapping()
        .expect("template has Resources");
    let mut events = Vec::new();
    for (_, resource) in resources {
        let props = &resource["Properties"];
        let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        let Some(declared) = props["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in declared {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &event["Properties"];
            events.push(Event {
                function: binary.to_owned(),
                method: p["Method"].as_str().expect("Method").to_uppercase(),
                path: p["Path"].as_str().expect("Path").to_owned(),
            });
        }
    }
    events
}

#[test]
fn routers_openapi_and_template_agree() {
    let served = served();
    let spec = spec_routes();
    let events = template_events();
    assert!(served.values().map(BTreeSet::len).sum::<usize>() > 30);
    assert!(events.len() > 20, "template events: {events:?}");
    let problems = drift(&served, &spec, &events);
    assert!(problems.is_empty(), "drift:\n  {}", problems.join("\n  "));
}

#[test]
fn a_route_only_in_the_router_is_drift() {
    let mut served = served();
    let route = ("GET".to_owned(), "/users/{id}/sessions".to_owned());
    served.get_mut("userhub-users").unwrap().insert(route);
    let problems = drift(&served, &spec_routes(), &template_events());
    assert_eq!(
        problems,
        ["GET /users/{id}/sessions is served but not in openapi.yaml"]
    );
}

#[test]
fn a_route_only_in_the_spec_is_drift() {
    let mut spec = spec_routes();
    spec.insert(("DELETE".into(), "/exports/{id}".into()));
    let problems = drift(&served(), &spec, &template_events());
    assert_eq!(
        problems,
        ["DELETE /exports/{id} is in openapi.yaml but no function serves it"]
    );
}

#[test]
fn a_route_without_an_event_or_at_the_wrong_function_is_drift() {
    let mut served = served();
    let exports = served.get_mut("userhub-exports").unwrap();
    exports.insert(("DELETE".into(), "/exports/{id}".into()));
    exports.insert(("GET".into(), "/users/export-raw".into()));
    let mut spec = spec_routes();
    spec.insert(("DELETE".into(), "/exports/{id}".into()));
    spec.insert(("GET".into(), "/users/export-raw".into()));
    let problems = drift(&served, &spec, &template_events());
    assert_eq!(
        problems,
        [
            "DELETE /exports/{id} (served by userhub-exports): no HttpApi event routes it",
            "GET /users/export-raw is served by userhub-exports, but API Gateway sends it to \
             userhub-users through ANY /users/{proxy+}",
        ]
    );
}

#[test]
fn an_event_to_a_function_that_does_not_serve_it_is_drift() {
    let mut events = template_events();
    events.push(Event {
        function: "userhub-exports".into(),
        method: "GET".into(),
        path: "/exports/{id}/file".into(),
    });
    events.push(Event {
        function: "userhub-auth".into(),
        method: "ANY".into(),
        path: "/stats/{proxy+}".into(),
    });
    let problems = drift(&served(), &spec_routes(), &events);
    assert_eq!(
        problems,
        [
            "the event GET /exports/{id}/file reaches userhub-exports, which serves no route \
             through it",
            "the event ANY /stats/{proxy+} reaches userhub-auth, which serves no route through it",
        ]
    );
}

#[test]
fn api_gateway_prefers_full_matches_then_variables_then_greedy() {
    let e = |method: &str, path: &str, function: &str| Event {
        function: function.into(),
        method: method.into(),
        path: path.into(),
    };
    let events = [
        e("ANY", "/users/{proxy+}", "users"),
        e("GET", "/users/export", "exports"),
        e("GET", "/users/{id}", "reader"),
        e("ANY", "/users/{id}", "any"),
    ];
    let pick = |m, p| selected(&events, m, p).map(|e| e.function.clone());
    assert_eq!(pick("GET", "/users/export"), Ok("exports".into()));
    assert_eq!(pick("POST", "/users/export"), Ok("any".into()));
    assert_eq!(pick("GET", "/users/{id}"), Ok("reader".into()));
    assert_eq!(pick("POST", "/users/{id}/restore"), Ok("users".into()));
    assert!(
        pick("GET", "/users").is_err(),
        "a greedy variable needs a segment"
    );
}
