//! Pure domain logic: no worker types, so all of it is unit-tested on the host.

pub mod account;
pub mod api_token;
pub mod authz;
pub mod ids;
pub mod invitation;
pub mod jwt;
pub mod password;
pub mod pbkdf2_sha512;
pub mod permissions;
pub mod roles;
pub mod scim;
pub mod scim_token;
pub mod session_cookie;
pub mod sso;
pub mod time;
pub mod token;
pub mod validation;
