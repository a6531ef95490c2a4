//! The end-to-end tests, one module per area, in one test binary: one link of the AWS SDK
//! and the routers instead of one per file. Every test but `drift`'s needs the local stack
//! (`make test`, or `python3 infra/stack.py run -- cargo nextest run -p userhub-tests`);
//! `tests/src/lib.rs` is the harness they share.

mod auth;
mod check;
mod drift;
mod event_shapes;
mod exports;
mod faults;
mod foundation;
mod imports;
mod lambda_smoke;
mod listing;
mod openapi_docs;
mod races;
mod recovery;
mod secrets;
mod user_rules;
mod users;
