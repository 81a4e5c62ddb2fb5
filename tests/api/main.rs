//! Integration tests: each starts the real server on 127.0.0.1 port 0 over a fresh
//! database (SQLite, or PostgreSQL when ROSTER_TEST_DATABASE_URL is set) and talks
//! HTTP to it.

mod api_keys;
mod attributes;
mod audit;
mod browser;
mod changes;
mod cli;
mod compat;
mod compat_anodot;
mod compat_dynatrace;
mod compat_sixeye;
mod compat_tyk;
mod concurrency;
mod connections;
mod console;
mod durability;
mod faces;
mod groups;
mod helpers;
mod imported_hashes;
mod isolation;
mod mail;
mod metrics;
mod nesting;
mod oauth;
mod openapi;
mod outage;
mod paging;
mod scale_out;
mod schema;
mod scim;
mod scim_bulk;
mod scim_hardening;
mod scim_profile;
mod secrets;
mod sign_in;
mod tenants;
mod transfer;
mod two_factor;
mod users;
mod validation;
mod webhooks;
