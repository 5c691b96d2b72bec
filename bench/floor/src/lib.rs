//! The floor: what a workers-rs Worker costs per request before it does anything.

use worker::{event, web_sys, Context, Env, Response, Result};

/// Takes the runtime's request as the service does (`web_sys::Request`: `worker::Request`
/// would also read `request.cf`), so the two differ only by what the service does.
#[event(fetch)]
async fn fetch(_req: web_sys::Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("ok")
}
