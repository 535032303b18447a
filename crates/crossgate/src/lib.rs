//! # crossgate
//!
//! CORS by the WHATWG Fetch standard, both halves of it.
//!
//! - [`policy`]: the server side. A [`Policy`] is validated when it is built (every problem at
//!   once, never a panic), matches origins at a cost independent of how many are allowed, and
//!   decides each request without allocating.
//! - [`fetch`] and [`origin`]: the standard's vocabulary, shared by both halves.
//! - Middleware: `crossgate::tower` (feature `tower`: axum, tonic, hyper) and `crossgate::actix`
//!   (feature `actix`), thin layers over the same `Policy`.

#![deny(unreachable_pub)]

pub mod agent;
pub mod audit;
pub mod browser;
pub mod fetch;
pub mod har;
pub mod origin;
pub mod policy;

#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "actix")]
pub mod actix;
