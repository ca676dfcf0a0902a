//! The Huidu SDK protocol (vendor "SDK 2.0/3.0" XML over TCP, port 10001):
//! packets ([`packet`]), XML ([`xml`]), methods ([`sdk`]), a loop as a
//! program list ([`program`]), one conversation ([`session`]) and an
//! emulated card ([`emulator`]).

pub mod emulator;
pub mod packet;
pub mod program;
pub mod sdk;
pub mod session;
pub mod xml;

pub use emulator::{DeviceConfig, Emulator, Fault};
pub use session::{Report, Session, SessionError, Task, UploadReport};
