//! User Management Service: a multi-tenant identity API as one Cloudflare Worker.
//! This file holds only the three entry points; see README.md for the layout.

pub mod api;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod idp;
pub mod jobs;
pub mod json;
pub mod mail;
pub mod ops;
pub mod store;

use worker::{
    console_error, console_log, event, web_sys, Context, Env, MessageBatch, Response,
    ScheduleContext, ScheduledEvent,
};

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(http::handle(api::ROUTES, req, env, ctx).await)
}

#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    jobs::mail_consumer::consume(batch, env).await
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let db = match env.d1("DB") {
        // A misconfiguration is reported by the run's config step; tracing just stays off.
        Ok(d1) => store::Db::new(d1).traced(config::cached(&env).is_ok_and(|c| c.sql_trace)),
        Err(e) => return console_error!("cron: no D1 binding: {e}"),
    };
    let report = jobs::cron::run(
        &env,
        &store::Store::open(&db),
        domain::time::Timestamp::now(),
    )
    .await;
    if report.errors.is_empty() {
        console_log!(
            "{}",
            crate::object!({"level": "info", "msg": "cron run", "cron": event.cron(), "report": report})
        );
    } else {
        console_error!(
            "{}",
            crate::object!({"level": "error", "msg": "cron run failed in part", "cron": event.cron(), "report": report})
        );
    }
}
