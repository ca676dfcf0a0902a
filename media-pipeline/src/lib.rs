//! The media pipeline (pure CPU: no network, no database, no file system).
//!
//! Not built yet: see issue "Media pipeline".
