//! Roster: a self-hosted, multi-tenant directory of users and groups that also
//! authenticates them.
//!
//! Faces ([`http`], [`cli`], the file formats of [`transfer`]) translate, the [`service`] decides, the [`store`] persists.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod store;
pub mod transfer;
pub mod webhooks;
