//! A JSON object builder shared by every layer (views, log lines, problem documents,
//! mail requests): below `api`, so nothing that logs or renders depends on handlers.

use serde_json::{Map, Value};

/// `object!({"key": value, "nested": {…}, …})`: a JSON object, as `serde_json::json!`
/// writes it, but each member goes through one shared, non-generic insert
/// (`Object::put`) instead of the code `json!` inlines per member (~350 members across the
/// views and log lines; BENCHMARKS.md, "wasm size").
#[macro_export]
macro_rules! object {
    ({ $($members:tt)* }) => {{
        let mut object = $crate::json::Object::default();
        $crate::object!(@members object $($members)*);
        object.into_value()
    }};
    (@members $o:ident) => {};
    (@members $o:ident $key:literal : null $(, $($rest:tt)*)?) => {
        $o.put($key, Ok(::serde_json::Value::Null));
        $crate::object!(@members $o $($($rest)*)?);
    };
    (@members $o:ident $key:literal : { $($inner:tt)* } $(, $($rest:tt)*)?) => {
        $o.put($key, Ok($crate::object!({ $($inner)* })));
        $crate::object!(@members $o $($($rest)*)?);
    };
    (@members $o:ident $key:literal : $value:expr $(, $($rest:tt)*)?) => {
        $o.put($key, ::serde_json::to_value(&$value));
        $crate::object!(@members $o $($($rest)*)?);
    };
}

/// The object `object!` builds.
#[derive(Default)]
pub struct Object(Map<String, Value>);

impl Object {
    #[inline(never)]
    pub fn put(&mut self, key: &str, value: Result<Value, serde_json::Error>) {
        // Members are strings, numbers, ids and JSON values, whose serialisation cannot
        // fail; were one to, it would read null rather than abort the request.
        self.0.insert(key.to_owned(), value.unwrap_or(Value::Null));
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}
