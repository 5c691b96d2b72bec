//! Background work: the mail queue consumer and the cron (sweep, invitation expiry and
//! reminders).

pub mod cron;
pub mod domains;
pub mod invitations;
pub mod mail_consumer;
