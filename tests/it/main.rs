//! The integration tests: one binary that drives pvesh+ — the real `pvesh-plus` executable and
//! the library's client — over real HTTPS against the embedded simulator.
//!
//! `common` holds the fixtures (a simulator per test, the binary pointed at it); each other
//! module is one area of behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agents;
mod architecture;
mod cli;
mod client;
mod cluster_ops;
mod common;
mod console;
mod contexts;
mod dashboard;
mod definitions;
mod examples;
mod executor;
mod export;
mod guest_ops;
mod hygiene;
mod interop;
mod lang_props;
mod mcp;
mod policy;
mod pty;
mod rawapi;
mod rbac;
mod reads;
mod render;
mod runbooks;
mod sim_clock;
mod sim_conformance;
mod sim_roundtrip;
mod staging;
mod transfer;
mod wizard;
mod wizard_lxc;
mod wizard_template;
