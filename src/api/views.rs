//! JSON views of stored rows: the one place response shapes are written.

use serde_json::{json, Value};

use crate::domain::time::Timestamp;
use crate::store::users::UserRow;

pub fn time(ms: i64) -> Value {
    json!(Timestamp(ms).to_rfc3339())
}

pub fn opt_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, time)
}

pub fn user(u: &UserRow) -> Value {
    crate::object!({
        "id": u.id,
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "phone": u.phone,
        "status": u.status,
        "email_verified": u.email_verified != 0,
        "pending_email": u.pending_email,
        "created_at": time(u.created_at),
        "last_login_at": opt_time(u.last_login_at),
        // Signs in through an org's identity provider, which owns the name and password.
        "federated": u.federated(),
    })
}
