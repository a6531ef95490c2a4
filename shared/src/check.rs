//! The table checker behind `userhub-admin check [--repair]`: one consistent Scan of the
//! table, and every invariant the writes keep, checked against what is stored:
//!
//! - every reservation names an existing user that holds its email or username;
//! - every user holds the reservations of its email and username;
//! - the status counters equal the users by status (and active admins), and the signup
//!   counters the users by month of `created_at` (erased users included, from their
//!   surviving audit trail: erasure never lowers a signup count);
//! - no unexpired session item outlives its user's authority (the sweep after a change of
//!   status, admin rights or password, or an erasure, finished);
//! - no export job is `running` for longer than any worker can run.
//!
//! `repair` fixes what is safe, through writes that re-check their premise (see
//! `store::inventory`), so repairing twice or against a live table does no harm. Two
//! users claiming one email cannot be repaired by a machine and are only reported.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::domain::export::{ExportJob, JobStatus};
use crate::domain::{Status, Timestamp, User, UserId};
use crate::store::{
    NameReservation, Record, ReservationKind, SessionRecord, StatusCounts, Store, StoreError,
};
use crate::users::Transition;

/// What to check and whether to repair.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub repair: bool,
    /// A job `running` for longer than this has lost its worker (the jobs function stops
    /// after 900 s, and the stream retries a failed invocation three times).
    pub stuck_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            repair: false,
            stuck_after: Duration::from_secs(3600),
        }
    }
}

/// A kind of broken invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Broken {
    /// A reservation whose user does not exist.
    OrphanReservation,
    /// A reservation naming a user whose email or username is another.
    StaleReservation,
    /// A user without the reservation of its email or username.
    MissingReservation,
    /// A user whose email or username is reserved by another user holding it too.
    ReservationConflict,
    /// The status counters differ from the users by status.
    StatusCounts,
    /// A year's signup counters differ from the users by month of creation.
    SignupCounts,
    /// Counters could not be verified: users changed while the check ran.
    CountersUnverified,
    /// Unexpired session items their user no longer admits (deleted, anonymised, inactive,
    /// erased, or of an older authority): the sweep after a change did not finish.
    DeadSessions,
    /// An export job `running` past the deadline.
    StuckJob,
}

impl Broken {
    /// A stable name for the output and scripts.
    pub fn code(self) -> &'static str {
        match self {
            Broken::OrphanReservation => "orphan_reservation",
            Broken::StaleReservation => "stale_reservation",
            Broken::MissingReservation => "missing_reservation",
            Broken::ReservationConflict => "reservation_conflict",
            Broken::StatusCounts => "status_counts",
            Broken::SignupCounts => "signup_counts",
            Broken::CountersUnverified => "counters_unverified",
            Broken::DeadSessions => "dead_sessions",
            Broken::StuckJob => "stuck_job",
        }
    }
}

/// One broken invariant, and whether `repair` fixed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Broken,
    pub subject: String,
    pub detail: String,
    pub repaired: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.repaired { " [repaired]" } else { "" };
        write!(
            f,
            "{}: {}: {}{state}",
            self.kind.code(),
            self.subject,
            self.detail
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// Nothing broken was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// What is still broken after this run (everything, without `repair`).
    pub fn unrepaired(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.repaired)
    }

    pub fn kinds(&self) -> Vec<Broken> {
        self.findings.iter().map(|f| f.kind).collect()
    }
}

/// What the Scan saw, by kind.
#[derive(Default)]
struct Inventory {
    users: HashMap<UserId, User>,
    live_sessions: BTreeMap<UserId, Vec<SessionRecord>>,
    reservations: Vec<NameReservation>,
    status: StatusCounts,
    signups: BTreeMap<i32, [i64; 12]>,
    running_jobs: Vec<ExportJob>,
    /// Per audited user: its first event's time, and whether it was erased.
    audits: HashMap<UserId, (Timestamp, bool)>,
}

impl Inventory {
    fn add(&mut self, record: Record, now: Timestamp) {
        match record {
            Record::User(u) => {
                self.users.insert(u.id, *u);
            }
            Record::Session(s) if s.is_live(now) => {
                self.live_sessions.entry(s.user_id).or_default().push(s);
            }
            Record::NameReservation(r) => self.reservations.push(r),
            Record::StatusCounts(c) => self.status = c,
            Record::Signups(year, months) => {
                self.signups.insert(year, months);
            }
            Record::ExportJob(job) if job.status == JobStatus::Running => {
                self.running_jobs.push(*job)
            }
            Record::Audit {
                user_id,
                action,
                at,
            } => {
                let erased = action == Transition::HardDelete.action();
                let entry = self.audits.entry(user_id).or_insert((at, false));
                entry.0 = entry.0.min(at);
                entry.1 |= erased;
            }
            Record::Session(_) | Record::ExportJob(_) | Record::Other => {}
        }
    }

    /// The counts the status counters must hold.
    fn expected_status(&self) -> StatusCounts {
        let mut c = StatusCounts::default();
        for u in self.users.values() {
            match u.status {
                Status::Active => c.active += 1,
                Status::Inactive => c.inactive += 1,
                Status::Deleted => c.deleted += 1,
            }
            c.active_admins += i64::from(u.is_admin && u.status == Status::Active);
        }
        c.total = c.active + c.inactive + c.deleted;
        c
    }

    /// Signups per year and month: every stored user, and every erased one.
    fn expected_signups(&self) -> BTreeMap<i32, [i64; 12]> {
        let erased = self
            .audits
            .iter()
            .filter(|(id, (_, erased))| *erased && !self.users.contains_key(id))
            .map(|(_, (first, _))| *first);
        let created = self.users.values().map(|u| u.created_at).chain(erased);
        let mut out: BTreeMap<i32, [i64; 12]> = BTreeMap::new();
        for at in created {
            let (year, month) = at.year_month();
            out.entry(year).or_default()[month as usize - 1] += 1;
        }
        out
    }
}

/// Scans the table and reports (and with `options.repair`, fixes) every broken invariant.
#[tracing::instrument(skip(store), fields(table = store.table()))]
pub async fn check(store: &Store, options: Options) -> Result<Report, StoreError> {
    let before = store.status_counts().await?;
    let now = Timestamp::now();
    let mut inv = Inventory::default();
    store.scan_records(|r| inv.add(r, now)).await?;
    // Every write that changes who is counted moves the status counters; if they did not
    // move while the Scan ran, the counts it saw belong together.
    let quiet = store.status_counts().await? == before;
    let mut checker = Checker {
        store,
        repair: options.repair,
        report: Report::default(),
    };
    checker.reservations(&inv).await?;
    if quiet {
        checker.counters(&inv).await?;
    } else {
        checker.found(
            Broken::CountersUnverified,
            "counters".into(),
            "users changed while the check ran; run it again".into(),
            false,
        );
    }
    checker.sessions(&inv, now).await?;
    checker.jobs(&inv, now, options.stuck_after).await?;
    Ok(checker.report)
}

struct Checker<'a> {
    store: &'a Store,
    repair: bool,
    report: Report,
}

impl Checker<'_> {
    fn found(&mut self, kind: Broken, subject: String, detail: String, repaired: bool) {
        // The subject may name an email: it goes to the operator's output, not to the log.
        tracing::warn!(kind = kind.code(), repaired, "broken invariant");
        self.report.findings.push(Finding {
            kind,
            subject,
            detail,
            repaired,
        });
    }

    async fn reservations(&mut self, inv: &Inventory) -> Result<(), StoreError> {
        let mut holders: HashMap<(ReservationKind, &str), Option<UserId>> = HashMap::new();
        for r in &inv.reservations {
            holders.insert((r.kind, &r.value), r.user_id);
            let owner = r.user_id.and_then(|id| inv.users.get(&id));
            let (kind, detail) = match owner {
                None => (
                    Broken::OrphanReservation,
                    "names no existing user".to_owned(),
                ),
                Some(u) if r.kind.value_of(u) != r.value => (
                    Broken::StaleReservation,
                    format!("names user {}, whose {} is another", u.id, r.kind.name()),
                ),
                Some(_) => continue,
            };
            let repaired = self.repair && self.store.remove_stray_reservation(r).await?;
            let subject = format!("{} reservation {:?}", r.kind.name(), r.value);
            self.found(kind, subject, detail, repaired);
        }
        for user in inv.users.values() {
            for kind in [ReservationKind::Email, ReservationKind::Username] {
                let value = kind.value_of(user);
                let holder = holders.get(&(kind, value)).copied().flatten();
                if holder == Some(user.id) {
                    continue;
                }
                let subject = format!("user {}", user.id);
                let rival = holder
                    .and_then(|id| inv.users.get(&id))
                    .filter(|other| kind.value_of(other) == value);
                if let Some(other) = rival {
                    let detail = format!("its {} is also user {}'s", kind.name(), other.id);
                    self.found(Broken::ReservationConflict, subject, detail, false);
                    continue;
                }
                // A stray holder was removed above (when repairing), so the value is free.
                let repaired = self.repair && self.store.restore_reservation(user, kind).await?;
                let detail = format!("its {} is not reserved", kind.name());
                self.found(Broken::MissingReservation, subject, detail, repaired);
            }
        }
        Ok(())
    }

    async fn counters(&mut self, inv: &Inventory) -> Result<(), StoreError> {
        let expected = inv.expected_status();
        if expected != inv.status {
            let repaired =
                self.repair && self.store.reset_status_counts(inv.status, expected).await?;
            let detail = format!("stored {:?}, counted {expected:?}", inv.status);
            self.found(
                Broken::StatusCounts,
                "users by status".into(),
                detail,
                repaired,
            );
        }
        let expected = inv.expected_signups();
        let years: std::collections::BTreeSet<i32> =
            inv.signups.keys().chain(expected.keys()).copied().collect();
        for year in years {
            let stored = inv.signups.get(&year).copied().unwrap_or_default();
            let counted = expected.get(&year).copied().unwrap_or_default();
            if stored == counted {
                continue;
            }
            let repaired = self.repair && self.store.reset_signups(year, stored, counted).await?;
            let detail = format!("stored {stored:?}, counted {counted:?}");
            self.found(
                Broken::SignupCounts,
                format!("signups {year}"),
                detail,
                repaired,
            );
        }
        Ok(())
    }

    async fn sessions(&mut self, inv: &Inventory, now: Timestamp) -> Result<(), StoreError> {
        for (user_id, sessions) in &inv.live_sessions {
            let user = inv.users.get(user_id);
            let dead: Vec<SessionRecord> = sessions
                .iter()
                .filter(|s| !user.is_some_and(|u| s.admits(u, now)))
                .cloned()
                .collect();
            if dead.is_empty() {
                continue;
            }
            let state = match user {
                None => "erased",
                Some(u) if u.status == Status::Active => "under another authority",
                Some(u) => u.status.as_str(),
            };
            // A session that its user no longer admits never will again (authority versions
            // only grow), and each delete holds only while its slot holds that session.
            if self.repair {
                self.store.end_sessions(*user_id, &dead).await?;
            }
            let detail = format!("{} session item(s) of a user {state}", dead.len());
            self.found(
                Broken::DeadSessions,
                format!("user {user_id}"),
                detail,
                self.repair,
            );
        }
        Ok(())
    }

    async fn jobs(
        &mut self,
        inv: &Inventory,
        now: Timestamp,
        stuck_after: Duration,
    ) -> Result<(), StoreError> {
        for job in &inv.running_jobs {
            if job.created_at.plus_secs(stuck_after.as_secs()) > now {
                continue;
            }
            if self.repair {
                let failed = job
                    .clone()
                    .failed("the export stopped before it finished; start a new one".into());
                self.store.finish_export_job(&failed).await?;
            }
            let detail = format!("running since {}", job.created_at);
            self.found(
                Broken::StuckJob,
                format!("export job {}", job.id),
                detail,
                self.repair,
            );
        }
        Ok(())
    }
}
