//! A TCP relay in front of the embedded broker, for the storm scenario.
//!
//! rumqttd runs on threads that cannot be stopped inside the process, so
//! "killing the embedded broker" is done here: the agents are enrolled with
//! this relay as their broker; [`Relay::kill`] drops every relayed
//! connection and stops listening (the agents see resets, then refused
//! connections), [`Relay::restart`] listens again on the same port. The
//! server's own broker connection is not relayed and stays up.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The relay.
pub struct Relay {
    /// Where agents connect.
    pub addr: SocketAddr,
    upstream: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Listens on a free loopback port, relaying to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut relay = Relay {
            addr: listener.local_addr()?,
            upstream,
            acceptor: None,
            connections: Arc::default(),
        };
        relay.serve(listener);
        Ok(relay)
    }

    fn serve(&mut self, listener: TcpListener) {
        let (upstream, connections) = (self.upstream, self.connections.clone());
        self.acceptor = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let _ = inbound.set_nodelay(true);
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                if let Ok(mut list) = connections.lock() {
                    list.retain(|t| !t.is_finished());
                    list.push(task);
                }
            }
        }));
    }

    /// Drops every connection and stops listening.
    pub fn kill(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        if let Ok(mut list) = self.connections.lock() {
            for task in list.drain(..) {
                task.abort();
            }
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }
}
