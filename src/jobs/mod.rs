//! Background work: the mail queue consumer and the cron sweep.

pub mod cron;
pub mod mail_consumer;
