//! What exports and imports have in common as API resources: who may see them, one read by
//! its id, and their list, newest first, each shown with its freshly signed links.

use std::future::Future;

use serde::Serialize;

use crate::config::Feature;
use crate::domain::{Principal, Scope};
use crate::store::{Page, Position, StoreError};
use crate::{Ctx, Error};

/// A job as the API shows it. `http::jobs` serves GET /<jobs> and /<jobs>/{id} from this.
pub trait JobResource: Serialize + Sized + Send + 'static {
    type Job: Send;
    /// The scope its list cursors are sealed for.
    const LIST: &'static str;
    const SCOPE: Scope;
    const FEATURE: Feature;

    /// Admins and keys with the scope, while the feature is on.
    fn allow(ctx: &Ctx, principal: &Principal) -> Result<(), Error> {
        principal.require_scope(Self::SCOPE)?;
        ctx.require_feature(Self::FEATURE)
    }

    /// The job `id` names; none for an id not shaped like one.
    fn job(
        ctx: &Ctx,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Job>, StoreError>> + Send;

    /// A page of jobs, newest first.
    fn page(
        ctx: &Ctx,
        limit: u32,
        after: Option<Position>,
    ) -> impl Future<Output = Result<Page<Self::Job>, StoreError>> + Send;

    /// The job with its links.
    fn of(ctx: &Ctx, job: Self::Job) -> impl Future<Output = Result<Self, Error>> + Send;

    /// The resource `id` names: 404 for an id of no job (or not shaped like one).
    fn find(ctx: &Ctx, id: &str) -> impl Future<Output = Result<Self, Error>> + Send {
        async move {
            let job = Self::job(ctx, id).await?.ok_or(Error::NotFound)?;
            Self::of(ctx, job).await
        }
    }
}
