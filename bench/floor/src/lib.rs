//! The floor: what a workers-rs Worker costs per request before it does anything.
//! `GET /logged` also writes one log line the size of the service's, to show what the one
//! log line per request costs on its own.

use worker::{event, wasm_bindgen::JsValue, web_sys, Context, Env, Response, Result};

/// A line of the service's shape and length (its request log line for `/health`).
const LINE: &str = r#"{"d1_ms":0,"d1_round_trips":0,"d1_rows_read":0,"d1_rows_written":0,"duration_ms":0,"level":"info","method":"GET","path":"/health","request_id":"019ae9a1-6a1d-7e97-9f04-b1898361fa1f","status":200}"#;

/// Takes the runtime's request as the service does (`web_sys::Request`: `worker::Request`
/// would also read `request.cf`), so the two differ only by what the service does.
#[event(fetch)]
async fn fetch(req: web_sys::Request, _env: Env, _ctx: Context) -> Result<Response> {
    if req.url().ends_with("/logged") {
        web_sys::console::log_1(&JsValue::from_str(LINE));
    }
    Response::ok("ok")
}
