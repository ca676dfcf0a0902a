//! The playlist language and the rotation compiler (pure: no I/O, no clock).
//!
//! Not built yet: see issue "Playlists as code and the rotation compiler".
