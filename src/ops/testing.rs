//! Fixtures of the operations' host tests: an org's store with no database behind it (an
//! operation only plans statements; nothing is sent), who acts in it, and readers of what a
//! planned statement would do, so that a test asserts the effect (which table, which
//! values) rather than the text of the SQL.

use super::Acting;
use crate::config::Config;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::store::audit::{Actor, Origin};
use crate::store::{Arg, Db, OrgStore, Stmt, Store};

/// The instant every operation under test runs at (2026-01-01T00:00:00Z).
pub const NOW: Timestamp = Timestamp(1_767_225_600_000);

pub const ACTOR_EMAIL: &str = "admin@example.com";

/// An org, someone acting in it, and the configuration.
pub struct Org {
    pub store: OrgStore,
    pub origin: Origin,
    pub actor: UserId,
    pub cfg: Config,
}

impl Org {
    pub fn new() -> Org {
        Org {
            store: OrgStore::open(&Db::detached(), OrgId::new()),
            origin: Origin {
                ip: "203.0.113.7".into(),
                user_agent: Some("ops-tests".into()),
            },
            actor: UserId::new(),
            cfg: Config::for_tests(),
        }
    }

    pub fn id(&self) -> OrgId {
        self.store.org()
    }

    pub fn global(&self) -> &Store {
        self.store.global()
    }

    /// The actor acting with `role` at `NOW`.
    pub fn acting(&self, role: OrgRole) -> Acting<'_> {
        Acting {
            org: &self.store,
            role,
            actor: Actor::user(self.actor, ACTOR_EMAIL),
            origin: &self.origin,
            now: NOW,
            method: None,
        }
    }
}

/// A text argument, as ids, roles and statuses are bound.
pub fn text(value: impl ToString) -> Arg {
    Arg::Text(value.to_string())
}

/// What a write does, as `VERB table`: `INSERT users`, `UPDATE invitations`, `DELETE grants`.
pub fn effect(stmt: &Stmt) -> String {
    let words: Vec<&str> = stmt.sql().split_whitespace().collect();
    let table = match words.first().copied() {
        Some("INSERT") => words.iter().skip_while(|w| **w != "INTO").nth(1).copied(),
        Some("UPDATE") => words.get(1).copied(),
        Some("DELETE") => words.get(2).copied(),
        _ => None,
    };
    match table {
        Some(t) => format!("{} {}", words[0], t.trim_end_matches('(')),
        None => panic!("not a write: {}", stmt.sql()),
    }
}

/// `effect` of each statement, in order.
pub fn effects(batch: &[Stmt]) -> Vec<String> {
    batch.iter().map(effect).collect()
}

/// The statements of `batch` with effect `which` (`"INSERT users"`).
pub fn all_of<'a>(batch: &'a [Stmt], which: &str) -> Vec<&'a Stmt> {
    batch.iter().filter(|s| effect(s) == which).collect()
}

/// The one statement of `batch` with effect `which`.
pub fn one_of<'a>(batch: &'a [Stmt], which: &str) -> &'a Stmt {
    match all_of(batch, which)[..] {
        [one] => one,
        ref found => panic!("{} statements {which}: {:?}", found.len(), effects(batch)),
    }
}

/// Whether `value` is among the statement's bound values.
pub fn binds(stmt: &Stmt, value: &Arg) -> bool {
    stmt.args().contains(value)
}

/// Tables whose every row belongs to one org (guards included: they fail an org's batch).
const ORG_TABLES: &[&str] = &[
    "org_members",
    "workspace_members",
    "group_members",
    "grants",
    "invitations",
    "invitation_links",
    "seat_guards",
    "batch_guards",
    "audit_events",
];

/// Every statement on an org's table binds `org`: none can reach another org's rows.
pub fn assert_org_scoped(batch: &[Stmt], org: OrgId) {
    for stmt in batch {
        let effect = effect(stmt);
        let table = effect.split(' ').nth(1).unwrap_or_default();
        if ORG_TABLES.contains(&table) {
            assert!(
                binds(stmt, &text(org)),
                "{effect} without the org: {stmt:?}"
            );
        }
    }
}

/// The value a write gives `column`: of `INSERT … (columns) VALUES (…)` or `… SELECT …`, or
/// of `UPDATE … SET column = …`. A placeholder reads as its bound argument, a literal as
/// itself; anything else (a column of the select, an expression) is not a value to assert.
pub fn value_of(stmt: &Stmt, column: &str) -> Arg {
    let sql = stmt.sql();
    let expr = if sql.starts_with("UPDATE") {
        let set = &sql[sql.find(" SET ").expect("UPDATE … SET") + 5..];
        top_level(set, &[" WHERE "]).into_iter().find_map(|pair| {
            let (col, expr) = pair.split_once('=')?;
            (col.trim() == column).then(|| expr.trim().to_string())
        })
    } else {
        let open = sql.find('(').expect("INSERT … (columns)");
        let close = open + sql[open..].find(')').expect("(columns)");
        let columns: Vec<&str> = sql[open + 1..close].split(',').map(str::trim).collect();
        let rest = sql[close + 1..].trim_start();
        let values = if let Some(list) = rest.strip_prefix("VALUES") {
            let list = list.trim_start().strip_prefix('(').expect("VALUES (");
            top_level(list, &[")"])
        } else {
            let list = rest.strip_prefix("SELECT ").expect("VALUES or SELECT");
            top_level(list, &[" FROM ", " WHERE "])
        };
        assert_eq!(columns.len(), values.len(), "{sql}");
        columns
            .iter()
            .position(|c| *c == column)
            .map(|i| values[i].clone())
    };
    let expr = expr.unwrap_or_else(|| panic!("{column} is not written by {sql}"));
    if let Some(n) = expr.strip_prefix('?') {
        let n: usize = n.parse().unwrap_or_else(|_| panic!("{column} = {expr}"));
        return stmt.args()[n - 1].clone();
    }
    if let Some(quoted) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
        return Arg::Text(quoted.replace("''", "'"));
    }
    if expr == "NULL" {
        return Arg::Null;
    }
    match expr.parse::<i64>() {
        Ok(i) => Arg::Int(i),
        Err(_) => panic!("{column} is the expression {expr} in {sql}"),
    }
}

/// The comma-separated items of `list` up to the first of `ends` outside parentheses and
/// quotes (or its end).
fn top_level(list: &str, ends: &[&str]) -> Vec<String> {
    let mut items = vec![String::new()];
    let (mut depth, mut quoted) = (0usize, false);
    for (i, c) in list.char_indices() {
        if !quoted && depth == 0 && ends.iter().any(|e| list[i..].starts_with(e)) {
            break;
        }
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        items.last_mut().expect("one item at least").push(c);
    }
    items.into_iter().map(|s| s.trim().to_string()).collect()
}

/// The audit event `action` the batch records.
pub fn event<'a>(batch: &'a [Stmt], action: &str) -> &'a Stmt {
    let found: Vec<&Stmt> = all_of(batch, "INSERT audit_events")
        .into_iter()
        .filter(|s| value_of(s, "action") == text(action))
        .collect();
    match found[..] {
        [one] => one,
        _ => panic!("{} events {action}", found.len()),
    }
}

/// An audit event's metadata, as JSON.
pub fn metadata(event: &Stmt) -> serde_json::Value {
    match value_of(event, "metadata") {
        Arg::Text(json) => serde_json::from_str(&json).expect("metadata is JSON"),
        other => panic!("metadata {other:?}"),
    }
}

mod tests {
    use super::*;

    #[test]
    fn the_readers_find_effects_and_values_of_every_statement_shape() {
        let db = Db::detached();
        let insert = db
            .stmt(
                "INSERT INTO t (a, b, c, d) VALUES (?2, 'it''s', json_object('k', ?1), NULL)",
                crate::args!["one", 2],
            )
            .unwrap();
        assert_eq!(effect(&insert), "INSERT t");
        assert_eq!(value_of(&insert, "a"), Arg::Int(2));
        assert_eq!(value_of(&insert, "b"), text("it's"));
        assert_eq!(value_of(&insert, "d"), Arg::Null);
        let select = db
            .stmt(
                "INSERT OR IGNORE INTO g (x, y, z) SELECT g.id, ?1, 7 FROM json_each(?2) WHERE 1",
                crate::args!["u", "[]"],
            )
            .unwrap();
        assert_eq!(effect(&select), "INSERT g");
        assert_eq!(value_of(&select, "y"), text("u"));
        assert_eq!(value_of(&select, "z"), Arg::Int(7));
        let guard = db
            .stmt(
                "INSERT INTO batch_guards (ok) SELECT NULL WHERE NOT (x)",
                vec![],
            )
            .unwrap();
        assert_eq!(value_of(&guard, "ok"), Arg::Null);
        let update = db
            .stmt(
                "UPDATE s SET a = ?2, b = 'x, y', c = c + 1 WHERE id = ?1 AND d = ?3",
                crate::args!["id", "two", "three"],
            )
            .unwrap();
        assert_eq!(effect(&update), "UPDATE s");
        assert_eq!(value_of(&update, "a"), text("two"));
        assert_eq!(value_of(&update, "b"), text("x, y"));
        let delete = db
            .stmt("DELETE FROM grants WHERE org_id = ?1", crate::args!["o"])
            .unwrap();
        assert_eq!(effect(&delete), "DELETE grants");
        assert!(binds(&delete, &text("o")) && !binds(&delete, &text("p")));
    }

    #[test]
    #[should_panic(expected = "is the expression c + 1")]
    fn an_expression_is_no_value_to_assert() {
        let update = Db::detached()
            .stmt("UPDATE s SET c = c + 1 WHERE id = ?1", crate::args!["id"])
            .unwrap();
        value_of(&update, "c");
    }
}
