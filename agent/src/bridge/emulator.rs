//! An emulated controller card on a local TCP port, for tests and the demo:
//! `ledcast_bridge`'s pure [`Emulator`] behind a `std::net` listener, one
//! connection at a time (as a card serves one SDK client), card time from
//! the wall clock. Not used by the agent in the field.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledcast_bridge::huidu::Emulator;

use crate::clock;

/// A running emulator server.
pub struct EmulatorServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The card (tests inject faults and look at it).
    pub card: Arc<Mutex<Emulator>>,
    /// Set to stop.
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for EmulatorServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorServer")
            .field("addr", &self.addr)
            .finish()
    }
}

fn serve_connection(card: &Mutex<Emulator>, mut stream: TcpStream, stop: &AtomicBool) {
    let connected = card
        .lock()
        .map(|mut c| c.connect().is_ok())
        .unwrap_or(false);
    if !connected {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let output = match card.lock() {
                    Ok(mut c) => c.receive(clock::now().as_millis(), &buffer[..n]),
                    Err(_) => break,
                };
                if !output.bytes.is_empty() && stream.write_all(&output.bytes).is_err() {
                    break;
                }
                if output.close {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // A card that was unplugged meanwhile drops the link.
                if card.lock().map(|c| c.is_offline()).unwrap_or(true) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    if let Ok(mut c) = card.lock() {
        c.disconnect();
    }
    let _ = stream.shutdown(Shutdown::Both);
}

impl EmulatorServer {
    /// Serves an emulated Huidu HD-WF2 door-strip card of `width`×`height`
    /// on `listen` (the demo's card).
    pub fn spawn_huidu_door_strip(
        width: u32,
        height: u32,
        listen: &str,
    ) -> std::io::Result<EmulatorServer> {
        EmulatorServer::spawn(
            Emulator::new(ledcast_bridge::huidu::DeviceConfig::door_strip(
                width, height,
            )),
            listen,
        )
    }

    /// Serves `card` on `127.0.0.1:0` (or `listen`) until dropped.
    pub fn spawn(card: Emulator, listen: &str) -> std::io::Result<EmulatorServer> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let card = Arc::new(Mutex::new(card));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_card, thread_stop) = (card.clone(), stop.clone());
        std::thread::Builder::new()
            .name("card-emulator".to_owned())
            .spawn(move || {
                for stream in listener.incoming() {
                    if thread_stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        serve_connection(&thread_card, stream, &thread_stop);
                    }
                }
            })?;
        Ok(EmulatorServer { addr, card, stop })
    }
}

impl Drop for EmulatorServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}
