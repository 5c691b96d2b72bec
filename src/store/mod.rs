//! Every SQL statement of the service, one module per aggregate. Functions either run a
//! query or return a statement (`Stmt`, sent later), so that a handler can compose one
//! atomic D1 batch (D1 has no BEGIN; a batch is one transaction).

pub mod api_tokens;
pub mod audit;
pub mod groups;
pub mod invitations;
pub mod mail;
pub mod members;
pub mod orgs;
pub mod rate_limits;
pub mod resource_grants;
pub mod scim;
pub mod sessions;
pub mod sso;
pub mod tokens;
pub mod users;
pub mod workspaces;

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::js_sys::{self, Array, Promise, Reflect};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement};

use crate::domain::account::AccountStatus;
use crate::domain::authz::Permission;
use crate::domain::ids::{
    ApiTokenId, ConnectionId, DomainId, EventId, GrantId, GroupId, InvitationId, OrgId,
    ScimTokenId, SessionId, UserId, WorkspaceId,
};
use crate::domain::invitation::InvitationStatus;
use crate::domain::roles::{OrgRole, WorkspaceRole};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};

/// A statement and its bound values, not yet given to D1: it becomes a D1 prepared
/// statement only where it is sent (`Db::one`, `Db::batch`). Built without the Worker
/// runtime, so what the store and the operations plan can be inspected on the host.
#[derive(Debug)]
pub struct Stmt {
    sql: String,
    args: Vec<Arg>,
}

#[cfg(test)]
impl Stmt {
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn args(&self) -> &[Arg] {
        &self.args
    }
}

/// A read: a statement and the type each of its rows is read as. The store's read
/// functions return one, so whoever runs it (alone, or in a `Together` batch) gets rows of
/// the right type without naming it.
pub struct Query<T> {
    stmt: Stmt,
    rows: PhantomData<fn() -> T>,
}

/// Where a read planned into a `Together` comes back in its `Results`, and as what.
pub struct Ticket<T> {
    index: usize,
    rows: PhantomData<fn() -> T>,
}

// Derives would require `T: Clone`; a ticket is an index whatever its rows are.
impl<T> Clone for Ticket<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Ticket<T> {}

/// A bound argument. D1 takes JS values; integers travel as f64 (exact below 2^53).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Null,
}

impl From<&Arg> for JsValue {
    fn from(a: &Arg) -> JsValue {
        match a {
            Arg::Text(s) => JsValue::from_str(s),
            Arg::Int(i) => JsValue::from_f64(*i as f64),
            Arg::Null => JsValue::NULL,
        }
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}
impl From<i64> for Arg {
    fn from(i: i64) -> Arg {
        Arg::Int(i)
    }
}
/// Bool columns are stored as 0/1.
impl From<bool> for Arg {
    fn from(b: bool) -> Arg {
        Arg::Int(i64::from(b))
    }
}
impl From<Timestamp> for Arg {
    fn from(t: Timestamp) -> Arg {
        Arg::Int(t.millis())
    }
}
impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(o: Option<T>) -> Arg {
        o.map_or(Arg::Null, Into::into)
    }
}
macro_rules! id_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(id: $t) -> Arg {
                Arg::Text(id.to_string())
            }
        }
    )*};
}
id_args!(
    UserId,
    OrgId,
    WorkspaceId,
    SessionId,
    EventId,
    InvitationId,
    GroupId,
    GrantId,
    ApiTokenId,
    DomainId,
    ConnectionId,
    ScimTokenId
);

/// Roles, statuses and permissions are stored as their names.
macro_rules! name_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::Text(v.as_str().to_string())
            }
        }
    )*};
}
name_args!(
    OrgRole,
    WorkspaceRole,
    AccountStatus,
    InvitationStatus,
    Permission
);

/// `args![a, b, c]`: a statement's bound values, each converted with `Arg::from`.
#[macro_export]
macro_rules! args {
    ($($e:expr),* $(,)?) => { vec![$($crate::store::Arg::from($e)),*] };
}

/// A row kept as JSON text in one column (`json_object(…)`, `json_group_array(…)`), read
/// like any row.
pub fn json_column<T: DeserializeOwned>(text: &str) -> ApiResult<T> {
    read_naming_failures("a JSON column", serde_json::from_str(text), || {
        serde_path_to_error::deserialize::<_, T>(&mut serde_json::Deserializer::from_str(text))
    })
}

/// `fast`, a read without path tracking; when it failed, the error names the column or
/// element by reading the input again with its path tracked (`tracked`). Tracking every
/// read cost ~1 % of a hot request (BENCHMARKS.md), so only a failed read pays it.
fn read_naming_failures<T, E: std::fmt::Display, D: std::fmt::Display>(
    what: &str,
    fast: Result<T, E>,
    tracked: impl FnOnce() -> Result<T, serde_path_to_error::Error<D>>,
) -> ApiResult<T> {
    fast.map_err(|plain| {
        ApiError::internal(match tracked() {
            Err(e) => format!("{what}: {}: {}", e.path(), e.inner()),
            Ok(_) => format!("{what}: {plain}"),
        })
    })
}

/// The one place a D1 failure becomes an API error: unique-constraint violations the
/// caller can cause become conflicts, everything else is an internal error (logged).
/// `msg` is the failure as D1 reports it (`D1_ERROR: UNIQUE constraint failed: …`).
pub fn map_d1_error(msg: &str) -> ApiError {
    if msg.contains("batch_guards.ok") {
        return ApiError::GuardFailed;
    }
    if msg.contains("seat_guards.ok") {
        return ApiError::conflict(
            "capacity_exceeded",
            "The organization has no free seat (member_limit); pending invitations hold seats too.",
        );
    }
    if msg.contains("UNIQUE constraint failed: org_domains.org_id") {
        return ApiError::conflict(
            "domain_exists",
            "The organization has already added this domain.",
        );
    }
    // The partial unique index on verified domains.
    if msg.contains("UNIQUE constraint failed: org_domains.domain") {
        return ApiError::conflict(
            "domain_taken",
            "Another organization has verified this domain.",
        );
    }
    // The org's SCIM users: one login name and one client id per person.
    if msg.contains("UNIQUE constraint failed: scim_users.") {
        return ApiError::problem(
            409,
            "uniqueness",
            "Already provisioned",
            "Another member of the organization already has this userName or externalId.",
        );
    }
    if msg.contains("UNIQUE constraint failed: users.email") {
        return ApiError::conflict("email_taken", "An account with this email already exists.");
    }
    // The partial unique index on pending invitations (org, email).
    if msg.contains("UNIQUE constraint failed: invitations.") {
        return ApiError::conflict(
            "invitation_exists",
            "A pending invitation to this email already exists.",
        );
    }
    if msg.contains("UNIQUE constraint failed: groups.") {
        return ApiError::conflict(
            "conflict",
            "A group with this name already exists in the organization.",
        );
    }
    // The partial unique index on live API token names (org, name_key).
    if msg.contains("UNIQUE constraint failed: api_tokens.") {
        return ApiError::conflict(
            "conflict",
            "A live API token with this name already exists in the organization.",
        );
    }
    if msg.contains("UNIQUE constraint failed: org_members.") {
        return ApiError::conflict(
            "already_member",
            "This person is already a member of the organization.",
        );
    }
    ApiError::internal(format!("D1: {msg}"))
}

/// What one request spent in D1: round trips and the wall time waiting for them, for the
/// `Server-Timing` header (budgets are counted in round trips, SPEC robustness/bench).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct D1Usage {
    pub round_trips: u32,
    pub millis: i64,
    /// Rows D1 reports read and written (its `meta`), what D1 bills and what bounds a
    /// primary's throughput.
    pub rows_read: u64,
    pub rows_written: u64,
}

/// The database handle; cheap to clone into background work. Every call to D1 (a query or
/// a batch: one round trip each) is counted in its `D1Usage`.
#[derive(Clone)]
pub struct Db {
    d1: Rc<D1Database>,
    usage: Rc<Cell<D1Usage>>,
    /// Log each statement prepared with its arguments (`Config::sql_trace`, development only).
    trace: bool,
}

impl Db {
    pub fn new(d1: D1Database) -> Self {
        Self::counted(d1, Rc::default())
    }

    /// A handle with no database behind it, for host tests of the statements the store and
    /// the operations plan (building one touches no D1; sending one would call a JS import
    /// the host lacks, and panic). `undefined` is one of wasm-bindgen's reserved values,
    /// which are never released through an import, so the handle can be dropped on the host.
    #[cfg(test)]
    pub fn detached() -> Self {
        Self::new(D1Database::unchecked_from_js(JsValue::UNDEFINED))
    }

    /// A handle whose round trips are added to `usage` (the request's).
    pub fn counted(d1: D1Database, usage: Rc<Cell<D1Usage>>) -> Self {
        Db {
            d1: Rc::new(d1),
            usage,
            trace: false,
        }
    }

    /// This handle, logging every statement it prepares when `on` (`SQL_TRACE=1`): one
    /// `SQL_TRACE {"sql": …, "args": […]}` line each, which `tests/query-plans.test.mjs`
    /// collects to explain every statement the service issues.
    pub fn traced(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    pub fn usage(&self) -> D1Usage {
        self.usage.get()
    }

    /// Awaits one call to D1 (a statement or a batch: one round trip), adding it, its time
    /// and the rows D1 reports to the usage.
    async fn round_trip(&self, call: Result<Promise, JsValue>) -> ApiResult<Vec<Outcome>> {
        let started = Timestamp::now();
        let settled = match call {
            Ok(promise) => JsFuture::from(promise).await,
            Err(thrown) => Err(thrown),
        };
        // A batch resolves to an array of results, a single statement to one result.
        let outcomes: Result<Vec<Outcome>, JsValue> = settled.map(|value| match value.dyn_into() {
            Ok(list) => Array::iter(&list).map(Outcome).collect(),
            Err(one) => vec![Outcome(one)],
        });
        let mut u = self.usage.get();
        u.round_trips += 1;
        u.millis += Timestamp::now().millis() - started.millis();
        for o in outcomes.iter().flatten() {
            u.rows_read += o.meta_count("rows_read");
            u.rows_written += o.meta_count("rows_written");
        }
        self.usage.set(u);
        outcomes.map_err(|e| map_d1_error(&failure_text(&e)))
    }

    /// One statement: its rows (a read) or what it changed (a write).
    async fn one(&self, stmt: Stmt) -> ApiResult<Outcome> {
        let prepared = self.prepare(stmt)?;
        let mut out = self.round_trip(prepared.inner().all()).await?;
        out.pop()
            .ok_or_else(|| ApiError::internal("D1 returned no result"))
    }

    /// Every statement of the service is made here (batches and riders included: a rider
    /// is part of its carrier's text, a guard is a statement like any other). It cannot fail
    /// (D1 sees the statement only when it is sent, `prepare`), but stays an `ApiResult`: the
    /// store's statement functions compose it with `?` and are unchanged by where D1 binds.
    pub fn stmt(&self, sql: &str, args: Vec<Arg>) -> ApiResult<Stmt> {
        if self.trace {
            trace(sql, &args);
        }
        Ok(Stmt {
            sql: sql.to_string(),
            args,
        })
    }

    /// `stmt` as D1's prepared statement, its values bound: only as it is sent.
    fn prepare(&self, stmt: Stmt) -> ApiResult<D1PreparedStatement> {
        let values: Vec<JsValue> = stmt.args.iter().map(JsValue::from).collect();
        self.d1
            .prepare(stmt.sql)
            .bind(&values)
            .map_err(|e| map_d1_error(&e.to_string()))
    }

    /// A read whose rows are read as `T`.
    pub fn query<T>(&self, sql: &str, args: Vec<Arg>) -> ApiResult<Query<T>> {
        Ok(Query {
            stmt: self.stmt(sql, args)?,
            rows: PhantomData,
        })
    }

    pub async fn first<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> ApiResult<Option<T>> {
        self.first_of(self.query(sql, args)?).await
    }

    pub async fn all<T: DeserializeOwned>(&self, sql: &str, args: Vec<Arg>) -> ApiResult<Vec<T>> {
        self.all_of(self.query(sql, args)?).await
    }

    /// Runs one write and returns how many rows it changed.
    pub async fn run(&self, sql: &str, args: Vec<Arg>) -> ApiResult<usize> {
        self.run_stmt(self.stmt(sql, args)?).await
    }

    /// Runs one prepared write and returns how many rows it changed.
    pub async fn run_stmt(&self, stmt: Stmt) -> ApiResult<usize> {
        Ok(self.one(stmt).await?.changes())
    }

    /// The first row of a prepared read.
    pub async fn first_of<T: DeserializeOwned>(&self, read: Query<T>) -> ApiResult<Option<T>> {
        self.one(read.stmt).await?.first()
    }

    /// Every row of a prepared read.
    pub async fn all_of<T: DeserializeOwned>(&self, read: Query<T>) -> ApiResult<Vec<T>> {
        self.one(read.stmt).await?.rows::<T>()
    }

    /// Runs `stmts` as one transaction with `read` as its last statement, so the row a
    /// write's response shows is read after the writes in the same round trip.
    pub async fn batch_then_first<T: DeserializeOwned>(
        &self,
        mut stmts: Vec<Stmt>,
        read: Query<T>,
    ) -> ApiResult<Option<T>> {
        stmts.push(read.stmt);
        let results = self.batch(stmts).await?;
        match results.last() {
            Some(r) => r.first(),
            None => Ok(None),
        }
    }

    /// A parent row and a list under it in one round trip (a batch of two reads): the
    /// parent decides 404/403, the list is the page. `None` when the parent is missing.
    pub async fn parent_and_list<P: DeserializeOwned, T: DeserializeOwned>(
        &self,
        parent: Query<P>,
        list: Query<T>,
    ) -> ApiResult<Option<(P, Vec<T>)>> {
        let mut reads = Together::default();
        let (p, l) = (reads.add(parent), reads.add(list));
        let results = reads.run_on(self).await?;
        match results.first(p)? {
            Some(parent) => Ok(Some((parent, results.rows(l)?))),
            None => Ok(None),
        }
    }

    /// Runs statements as one transaction: all of them take effect or none.
    pub async fn batch(&self, stmts: Vec<Stmt>) -> ApiResult<Vec<Outcome>> {
        let list = Array::new();
        for stmt in stmts {
            list.push(self.prepare(stmt)?.inner());
        }
        let js: &JsValue = (*self.d1).as_ref();
        let d1: &worker::worker_sys::D1Database = js.unchecked_ref();
        self.round_trip(d1.batch(list)).await
    }
}

/// One `SQL_TRACE` line: the statement's text and its arguments as JSON.
#[inline(never)]
fn trace(sql: &str, args: &[Arg]) {
    worker::console_log!("SQL_TRACE {}", trace_line(sql, args));
}

fn trace_line(sql: &str, args: &[Arg]) -> serde_json::Value {
    let args: Vec<serde_json::Value> = args
        .iter()
        .map(|a| match a {
            Arg::Text(s) => serde_json::Value::from(s.as_str()),
            Arg::Int(i) => serde_json::Value::from(*i),
            Arg::Null => serde_json::Value::Null,
        })
        .collect();
    serde_json::json!({"sql": sql, "args": args})
}

/// The store outside any one org: accounts, sessions, emailed tokens, rate limits, mail,
/// and what leads into an org as its invitee (an invitation by its emailed token, or
/// addressed to the signed-in person: accepting, declining). Handlers
/// reach the database only through it or an `OrgStore`; it cannot open an org's store (that
/// takes the raw `Db`, which only the pipeline, the cron and the queue consumer hold).
#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn open(db: &Db) -> Store {
        Store { db: db.clone() }
    }

    /// The store of an org being created: its id is new, so it can name no existing org.
    pub fn create_org(&self) -> OrgStore {
        OrgStore {
            global: self.clone(),
            org: OrgId::new(),
        }
    }

    /// Runs statements as one transaction: all of them take effect or none.
    pub async fn batch(&self, stmts: Vec<Stmt>) -> ApiResult<Vec<Outcome>> {
        self.db.batch(stmts).await
    }

    /// `stmts` as one transaction with `read` last (see `Db::batch_then_first`).
    pub async fn batch_then_first<T: DeserializeOwned>(
        &self,
        stmts: Vec<Stmt>,
        read: Query<T>,
    ) -> ApiResult<Option<T>> {
        self.db.batch_then_first(stmts, read).await
    }

    pub async fn first_of<T: DeserializeOwned>(&self, read: Query<T>) -> ApiResult<Option<T>> {
        self.db.first_of(read).await
    }

    pub async fn all_of<T: DeserializeOwned>(&self, read: Query<T>) -> ApiResult<Vec<T>> {
        self.db.all_of(read).await
    }

    /// Runs one prepared write and returns how many rows it changed.
    pub async fn run_stmt(&self, stmt: Stmt) -> ApiResult<usize> {
        self.db.run_stmt(stmt).await
    }
}

/// One org's data. Admission to the org (`http::access`) opens it, and every org-scoped
/// statement of the store takes one instead of an org id: a handler admitted to org A
/// holds no handle that reaches org B.
#[derive(Clone)]
pub struct OrgStore {
    global: Store,
    org: OrgId,
}

impl OrgStore {
    /// The org's store. Opened where the org was established for the caller: the access
    /// gate, the operator's route and the cron (holders of the raw `Db`), and, through
    /// `Store`, a new org being created and the org an invitation's token leads to.
    pub fn open(db: &Db, org: OrgId) -> OrgStore {
        OrgStore {
            global: Store::open(db),
            org,
        }
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The store outside the org, for the account-level statements of the same batch.
    pub fn global(&self) -> &Store {
        &self.global
    }
}

/// A row of an existence check (`SELECT 1 AS found …`): only whether it came back matters.
#[derive(Debug, Deserialize)]
pub struct Found {}

/// Statements sent to D1 in one round trip (a batch, so also one transaction), each
/// result read back by the index `add` gave it: a handler's checks before it writes (rate
/// limit hits, lookups) cost one round trip however many there are.
#[derive(Default)]
pub struct Together {
    stmts: Vec<Stmt>,
    rider: Option<Rider>,
}

impl Together {
    /// A read, its rows to be taken from the results with the ticket.
    pub fn add<T>(&mut self, read: Query<T>) -> Ticket<T> {
        self.stmts.push(read.stmt);
        Ticket {
            index: self.stmts.len() - 1,
            rows: PhantomData,
        }
    }

    /// Statements whose results are not read back (a write's statements before its reads).
    pub fn extend(&mut self, stmts: Vec<Stmt>) {
        self.stmts.extend(stmts);
    }

    /// A one-row read to carry in the row of the statement that takes it (`take_rider`:
    /// the credential's read, see `http::auth::authenticate_with`) rather than as a
    /// statement of its own.
    pub fn ride(&mut self, rider: Rider) {
        self.rider = Some(rider);
    }

    pub fn take_rider(&mut self) -> Option<Rider> {
        self.rider.take()
    }

    /// The statements planned so far, in order.
    #[cfg(test)]
    pub fn planned(&self) -> &[Stmt] {
        &self.stmts
    }

    pub async fn run(self, store: &Store) -> ApiResult<Results> {
        self.run_on(&store.db).await
    }

    /// `run` inside the store, which holds the raw `Db`.
    pub(in crate::store) async fn run_on(self, db: &Db) -> ApiResult<Results> {
        if self.rider.is_some() {
            // A read nobody carried would be silently missing from the results.
            return Err(ApiError::internal(
                "a rider was planned but no statement took it",
            ));
        }
        if self.stmts.is_empty() {
            return Ok(Results(Vec::new()));
        }
        Ok(Results(db.batch(self.stmts).await?))
    }
}

/// A one-row read carried by another statement as one more column, `rider`: the JSON text
/// of its one object, NULL when it finds no row. Each statement of a batch costs D1 and its
/// client a result and a `meta`; for the authorization check, whose facts were a second
/// statement beside the credential's read, that was a tenth of its throughput
/// (BENCHMARKS.md, "Where the time goes").
pub struct Rider {
    /// `SELECT json_object(…) FROM …` returning at most one row; placeholders are numbered
    /// (`?1`, `?2`, …) from the rider's own first argument.
    sql: &'static str,
    args: Vec<Arg>,
}

impl Rider {
    pub fn new(sql: &'static str, args: Vec<Arg>) -> Rider {
        Rider { sql, args }
    }

    /// The select-list item (with its trailing comma) that carries `rider` in a statement
    /// bound with `args`, whose rider's arguments are appended to them; empty without one.
    pub fn column(rider: Option<Rider>, args: &mut Vec<Arg>) -> String {
        let Some(rider) = rider else {
            return String::new();
        };
        let sql = rebased(rider.sql, args.len());
        args.extend(rider.args);
        format!("({sql}) AS rider, ")
    }
}

thread_local! {
    /// Riders' statements as rebased, by statement and offset: the same few pairs (a
    /// static statement, the credential read's argument count) on every request.
    static REBASED: RefCell<Vec<(&'static str, usize, Rc<str>)>> = const { RefCell::new(Vec::new()) };
}

/// `rebase_placeholders` once per isolate for each statement and offset.
fn rebased(sql: &'static str, by: usize) -> Rc<str> {
    REBASED.with(|kept| {
        let found = kept
            .borrow()
            .iter()
            .find(|(s, b, _)| std::ptr::eq(*s, sql) && *b == by)
            .map(|(_, _, text)| text.clone());
        found.unwrap_or_else(|| {
            let text: Rc<str> = rebase_placeholders(sql, by).into();
            kept.borrow_mut().push((sql, by, text.clone()));
            text
        })
    })
}

/// `sql` with every numbered placeholder `?N` turned into `?{N + by}`, outside string
/// literals and quoted names, so that a statement can be put inside one that binds `by`
/// arguments before it. Our statements number every placeholder; a bare `?` (numbered by
/// position) is left as is and would be wrong here.
fn rebase_placeholders(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                match digits.parse::<usize>() {
                    Ok(n) => out.push_str(&(n + by).to_string()),
                    Err(_) => out.push_str(&digits),
                }
            }
            (None, _) => {}
        }
    }
    out
}

/// The results of a `Together`, by index.
pub struct Results(Vec<Outcome>);

impl Results {
    /// Results as if every read had found no row (a ticket past the end reads as none),
    /// for host tests: a row can only come from JS.
    #[cfg(test)]
    pub fn nothing_found() -> Results {
        Results(Vec::new())
    }

    pub fn rows<T: DeserializeOwned>(&self, read: Ticket<T>) -> ApiResult<Vec<T>> {
        match self.0.get(read.index) {
            Some(r) => r.rows(),
            None => Ok(Vec::new()),
        }
    }

    pub fn first<T: DeserializeOwned>(&self, read: Ticket<T>) -> ApiResult<Option<T>> {
        match self.0.get(read.index) {
            Some(r) => r.first(),
            None => Ok(None),
        }
    }
}

/// A statement that aborts its batch (rolling all of it back) unless `condition` holds;
/// the batch then fails with `ApiError::GuardFailed`, which the handler translates.
pub fn guard(db: &Db, condition: &str, args: Vec<Arg>) -> ApiResult<Stmt> {
    db.stmt(
        &format!("INSERT INTO batch_guards (ok) SELECT NULL WHERE NOT ({condition})"),
        args,
    )
}

/// One statement's result as D1's JS client returns it (`{results, meta}`). Only the
/// counters wanted are read from `meta` (decoding the whole object per statement showed in
/// the profiles; BENCHMARKS.md, "Where the time goes"); each row wanted becomes a JSON value
/// with serde-wasm-bindgen and is read by `Row` (decoding the rows from one
/// `JSON.stringify` text with serde_json measured the same and added 20 KB gzip of code).
pub struct Outcome(JsValue);

impl Outcome {
    /// A counter of `meta` (`changes`, `rows_read`, `rows_written`); 0 when absent.
    fn meta_count(&self, key: &str) -> u64 {
        Reflect::get(&self.0, &JsValue::from_str("meta"))
            .and_then(|meta| Reflect::get(&meta, &JsValue::from_str(key)))
            .ok()
            .and_then(|v| v.as_f64())
            .map_or(0, |n| n.max(0.0) as u64)
    }

    /// How many rows a write changed.
    pub fn changes(&self) -> usize {
        self.meta_count("changes") as usize
    }

    /// The rows, each decoded as `T` (column names are field names).
    pub fn rows<T: DeserializeOwned>(&self) -> ApiResult<Vec<T>> {
        let results = self.results()?;
        let mut rows = Vec::with_capacity(results.length() as usize);
        for row in results.iter() {
            rows.push(decode_row(row)?);
        }
        Ok(rows)
    }

    /// The first row, the others left undecoded.
    pub fn first<T: DeserializeOwned>(&self) -> ApiResult<Option<T>> {
        let results = self.results()?;
        match results.length() {
            0 => Ok(None),
            _ => decode_row(results.get(0)).map(Some),
        }
    }

    /// The `results` array (empty for a statement that returns none).
    fn results(&self) -> ApiResult<Array> {
        let rows = Reflect::get(&self.0, &JsValue::from_str("results")).unwrap_or(JsValue::NULL);
        if rows.is_null() || rows.is_undefined() {
            return Ok(Array::new());
        }
        rows.dyn_into()
            .map_err(|_| ApiError::internal("D1 results are not an array"))
    }
}

/// One row from JS, read by `T`'s derived `Deserialize`: column names are field names;
/// ids, roles and statuses parse as they are read. A column of the wrong type (or a value
/// no domain type accepts) makes the row an internal error naming the column.
fn decode_row<T: DeserializeOwned>(row: JsValue) -> ApiResult<T> {
    read_naming_failures(
        "D1 row",
        serde_wasm_bindgen::from_value(row.clone()),
        || serde_path_to_error::deserialize(serde_wasm_bindgen::Deserializer::from(row)),
    )
}

/// The text of a rejected D1 call: the error's message and, when D1 wraps the SQLite error
/// as its `cause`, that too (constraint names are matched in `map_d1_error`).
fn failure_text(thrown: &JsValue) -> String {
    match thrown.dyn_ref::<js_sys::Error>() {
        Some(err) => {
            let message = String::from(err.message());
            match err.cause().dyn_ref::<js_sys::Error>() {
                Some(cause) => format!("{message}: {}", String::from(cause.message())),
                None => message,
            }
        }
        None => thrown.as_string().unwrap_or_else(|| format!("{thrown:?}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::roles::OrgRole;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        id: UserId,
        count: i64,
        role: Option<OrgRole>,
        note: Option<String>,
        ended_at: Option<i64>,
    }

    const ADA: &str = "0190a6f2-7c3e-7d4a-9b1e-2f3a4b5c6d7e";

    fn sample(value: serde_json::Value) -> ApiResult<Sample> {
        json_column(&value.to_string())
    }

    #[test]
    fn rows_read_typed_columns_by_name_with_null_and_absent_as_none() {
        let row = sample(json!({
            "count": 3, "id": ADA, "note": null, "unread": "extra columns are ignored"
        }))
        .unwrap();
        assert_eq!(
            row,
            Sample {
                id: ADA.parse().unwrap(),
                count: 3,
                role: None,
                note: None,
                ended_at: None
            }
        );
        let row = sample(json!({"id": ADA, "count": -7, "role": "admin", "note": "n",
            "ended_at": 1700000000000_i64}))
        .unwrap();
        assert_eq!(row.role, Some(OrgRole::Admin));
        assert_eq!(row.note.as_deref(), Some("n"));
        assert_eq!(row.ended_at, Some(1_700_000_000_000));
        assert_eq!(row.count, -7);
    }

    #[test]
    fn a_column_of_the_wrong_type_or_value_is_an_internal_error_naming_it() {
        for (bad, column) in [
            (json!({"id": 1, "count": 3}), "id"),
            (json!({"id": "not-a-uuid", "count": 3}), "id"),
            (json!({"id": ADA, "count": "3"}), "count"),
            (json!({"id": ADA, "count": 1.5}), "count"),
            (json!({"id": ADA}), "."),
            (json!({"id": null, "count": 3}), "id"),
            (json!({"id": ADA, "count": 3, "role": "emperor"}), "role"),
            (json!({"id": ADA, "count": 3, "note": 5}), "note"),
            // A row is an object; a list reads positionally, and "a" is no id.
            (json!(["a", 3]), "[0]"),
        ] {
            match sample(bad.clone()) {
                Err(ApiError::Internal(msg)) => {
                    assert!(
                        msg.starts_with(&format!("a JSON column: {column}: ")),
                        "{bad}: {msg}"
                    )
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // The first offending column, in the row's order, is named.
        match json_column::<Sample>(r#"{"id": 1, "count": "x"}"#) {
            Err(ApiError::Internal(msg)) => {
                assert!(msg.starts_with("a JSON column: id: "), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_list_columns_read_each_element() {
        let list: Vec<Sample> = json_column(&format!(
            r#"[{{"id":"{ADA}","count":1}},{{"id":"{ADA}","count":2,"note":"n"}}]"#
        ))
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].note.as_deref(), Some("n"));
        assert!(json_column::<Vec<Sample>>("[]").unwrap().is_empty());
        for bad in ["{}", "not json", r#"[{"id":"x"}]"#, "null"] {
            assert!(json_column::<Vec<Sample>>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_columns_read_as_one_row() {
        let row: Sample =
            json_column(&format!(r#"{{"id":"{ADA}","count":2,"note":null}}"#)).unwrap();
        assert_eq!((row.count, row.note), (2, None));
        assert_eq!(row.id, ADA.parse().unwrap());
        for bad in ["[]", "not json", r#"{"id":1,"count":2}"#, "null"] {
            assert!(json_column::<Sample>(bad).is_err(), "{bad}");
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Texts {
        names: Vec<String>,
    }

    #[test]
    fn text_list_columns_take_only_texts() {
        let row: Texts = json_column(r#"{"names": ["a", "[1]"]}"#).unwrap();
        assert_eq!(row.names, vec!["a".to_string(), "[1]".to_string()]);
        let empty: Texts = json_column(r#"{"names": []}"#).unwrap();
        assert!(empty.names.is_empty());
        for bad in [
            r#"{"names": [1]}"#,
            r#"{"names": "a"}"#,
            r#"{"names": [["a"]]}"#,
            r#"{"names": null}"#,
        ] {
            assert!(json_column::<Texts>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_trace_line_is_the_statement_and_its_arguments() {
        let args = args!["a\"b", 7, None::<i64>];
        let line = trace_line("SELECT ?1, ?2, ?3", &args);
        assert_eq!(
            line.to_string(),
            r#"{"args":["a\"b",7,null],"sql":"SELECT ?1, ?2, ?3"}"#
        );
    }

    #[test]
    fn placeholders_are_rebased_outside_literals_and_quoted_names() {
        assert_eq!(
            rebase_placeholders("SELECT ?1, ?2 FROM t WHERE a = ?10", 4),
            "SELECT ?5, ?6 FROM t WHERE a = ?14"
        );
        assert_eq!(rebase_placeholders("x = ?3", 0), "x = ?3");
        assert_eq!(
            rebase_placeholders(
                "a = '?1' AND \"?2\" = ?2 AND b = 'it''s ?3' OR `?4` = ?4",
                2
            ),
            "a = '?1' AND \"?2\" = ?4 AND b = 'it''s ?3' OR `?4` = ?6"
        );
        // Unnumbered (positional) placeholders are not ours to move.
        assert_eq!(
            rebase_placeholders("a = ? AND b = ?1", 1),
            "a = ? AND b = ?2"
        );
    }

    #[test]
    fn a_rider_statement_is_rebased_once_per_offset() {
        static SQL: &str = "SELECT json_object('k', ?1)";
        let first = rebased(SQL, 3);
        assert_eq!(&*first, "SELECT json_object('k', ?4)");
        assert!(Rc::ptr_eq(&first, &rebased(SQL, 3)));
        assert_eq!(&*rebased(SQL, 2), "SELECT json_object('k', ?3)");
    }

    #[test]
    fn a_rider_is_a_column_with_its_arguments_after_the_statements() {
        let mut args = args!["s", 5];
        let column = Rider::column(
            Some(Rider::new(
                "SELECT json_object('k', ?2) FROM t WHERE id = ?1",
                args!["id"],
            )),
            &mut args,
        );
        assert_eq!(
            column,
            "(SELECT json_object('k', ?4) FROM t WHERE id = ?3) AS rider, "
        );
        assert_eq!(args.len(), 3);
        assert!(matches!(&args[2], Arg::Text(t) if t == "id"));
        let mut args = args!["s"];
        assert_eq!(Rider::column(None, &mut args), "");
        assert_eq!(args.len(), 1);
    }

    proptest::proptest! {
        /// Rebasing by `a` then `b` is rebasing by `a + b`, by 0 changes nothing, and text
        /// without a `?` outside quotes is never touched.
        #[test]
        fn rebasing_composes(sql in "[a-z ?0-9'\"=,()]{0,60}", a in 0usize..50, b in 0usize..50) {
            proptest::prop_assert_eq!(rebase_placeholders(&sql, 0), sql.clone());
            proptest::prop_assert_eq!(
                rebase_placeholders(&rebase_placeholders(&sql, a), b),
                rebase_placeholders(&sql, a + b)
            );
            if !sql.contains('?') {
                proptest::prop_assert_eq!(rebase_placeholders(&sql, a), sql);
            }
        }
    }
}
