//! The FIX engine: the only crate with threads, sockets, real clocks and core pinning.
//!
//! * [`config`]: properties files (FIX Antenna `engine.properties` engine-wide keys and FIXEdge
//!   `FixLayer.FixEngine.Session.<Name>.` per-session keys with `Backup.` endpoints), resolved into
//!   typed [`config::EngineSettings`] and [`config::SessionSettings`], plus a typed builder for the API.
//!   Every key, default and unit is listed in `docs/CONFIG.md`.

pub mod config;
