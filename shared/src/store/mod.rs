//! DynamoDB access. This module is the only place that knows key shapes, attribute
//! names and expressions; everything above it speaks in domain types.
//!
//! This file is the store's facade: the `Store` handle and what the store exports. Its
//! files import from here, never the other way round (see ARCHITECTURE.md, "Layers").

mod api_keys;
mod audit;
mod counters;
mod directory;
mod error;
mod imports;
mod inventory;
mod item;
mod jobs;
mod keys;
mod page;
mod profiles;
mod rate_limits;
mod scan;
// Test and benchmark seeding only: the `test-support` feature keeps it out of the Lambdas.
#[cfg(feature = "test-support")]
mod seed;
mod sessions;
mod table;
mod tokens;
mod tx;
mod users;

use aws_sdk_dynamodb::Client;

pub use api_keys::ApiKeyRecord;
pub use counters::StatusCounts;
pub use directory::READ_BUDGET;
pub use error::{is_unavailable, Call, StoreError};
pub use imports::{import_job_id, Advance, Created, ImportTally, JobMoveError};
pub use inventory::{NameReservation, Record};
pub use item::Item;
pub use jobs::export_job_id;
pub use keys::ReservationKind;
pub use page::{Page, Position};
pub use rate_limits::Reservation;
pub use scan::UserScan;
pub use sessions::{Rotation, SessionRecord};
pub use tx::TxError;
pub use users::WriteError;

/// The users table. Cheap to clone: the SDK client is reference-counted.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
