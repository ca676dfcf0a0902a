//! The Huidu SDK packet layer over TCP: `[len u16 LE][cmd u16 LE][payload]`,
//! where `len` counts the whole packet, header included (vendor SDK document
//! §1.2, and the vendor's C# demo: the version packet is sent with `len = 8`).
//! TCP carries no checksum at this layer; files are checked by MD5 and the
//! XML answers carry a result name.
//!
//! Pure: bytes in, packets out. It does not decide what to send next (that
//! is [`super::session`]) and does not know the XML inside SDK packets.

use thiserror::Error;

/// The largest packet the controller accepts: 9 × 1024 bytes (vendor doc §1.1).
pub const MAX_PACKET_BYTES: usize = 9 * 1024;
/// Header bytes of every packet.
pub const HEADER_BYTES: usize = 4;
/// Header bytes of an SDK (XML) packet: header + total + index.
pub const SDK_HEADER_BYTES: usize = 12;
/// The most XML one SDK packet carries.
pub const MAX_XML_CHUNK: usize = MAX_PACKET_BYTES - SDK_HEADER_BYTES;
/// The most file data one `FileContentAsk` carries.
pub const MAX_FILE_CHUNK: usize = MAX_PACKET_BYTES - HEADER_BYTES;
/// The transport version this client offers. The vendor's C# demo and the
/// hardware-tested Go library send `0x1000005`; the 3.x document lists
/// `0x1000007` and says a card answers with the highest version it supports.
pub const TRANSPORT_VERSION: u32 = 0x0100_0005;
/// The TCP port a card listens on (Android-based models: 20001).
pub const DEFAULT_PORT: u16 = 10001;

/// Command values (vendor doc §1.10.2 `HcmdType`).
pub mod cmd {
    /// TCP heartbeat request.
    pub const HEARTBEAT_ASK: u16 = 0x005f;
    /// TCP heartbeat answer.
    pub const HEARTBEAT_ANSWER: u16 = 0x0060;
    /// An error answer carrying an `HErrorCode`.
    pub const ERROR_ANSWER: u16 = 0x2000;
    /// Transport version negotiation request.
    pub const SERVICE_ASK: u16 = 0x2001;
    /// Transport version negotiation answer.
    pub const SERVICE_ANSWER: u16 = 0x2002;
    /// SDK (XML) request.
    pub const SDK_ASK: u16 = 0x2003;
    /// SDK (XML) answer.
    pub const SDK_ANSWER: u16 = 0x2004;
    /// File transfer start request.
    pub const FILE_START_ASK: u16 = 0x8001;
    /// File transfer start answer.
    pub const FILE_START_ANSWER: u16 = 0x8002;
    /// File content.
    pub const FILE_CONTENT_ASK: u16 = 0x8003;
    /// File content answer (cards do not send it for every chunk).
    pub const FILE_CONTENT_ANSWER: u16 = 0x8004;
    /// File transfer end request.
    pub const FILE_END_ASK: u16 = 0x8005;
    /// File transfer end answer.
    pub const FILE_END_ANSWER: u16 = 0x8006;
}

/// One packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// Keep-alive from the host (send one after 30 s of silence; a card drops
    /// a connection after 60 s without data).
    HeartbeatAsk,
    /// Keep-alive answer.
    HeartbeatAnswer,
    /// The card refused the last request.
    Error {
        /// An `HErrorCode` (see [`error_name`]).
        code: u16,
    },
    /// Transport version offer.
    ServiceAsk {
        /// The version offered.
        version: u32,
    },
    /// Transport version answer.
    ServiceAnswer {
        /// The version the card will speak.
        version: u32,
    },
    /// A fragment of an SDK XML request.
    SdkAsk(SdkFragment),
    /// A fragment of an SDK XML answer.
    SdkAnswer(SdkFragment),
    /// A file is about to be sent.
    FileStartAsk {
        /// Lower-case hex MD5 of the whole file (32 characters).
        md5_hex: String,
        /// File size in bytes.
        size: u64,
        /// File type: 0 image, 1 video, 2 font, 3 firmware, …
        file_type: u16,
        /// File name on the card (unique; programs refer to it).
        name: String,
    },
    /// The card's answer to `FileStartAsk`.
    FileStartAnswer {
        /// `HErrorCode`; 0 = go ahead.
        status: u16,
        /// Bytes of this file the card already holds (resume from here).
        exist_size: u64,
    },
    /// A chunk of file data.
    FileContent(Vec<u8>),
    /// The file is complete.
    FileEndAsk,
    /// The card's verdict on the whole file.
    FileEndAnswer {
        /// `HErrorCode`; 0 = stored and verified.
        status: u16,
    },
    /// A command this codec does not model (kept for logs).
    Other {
        /// The command value.
        cmd: u16,
        /// Its payload.
        payload: Vec<u8>,
    },
}

/// A fragment of an SDK XML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkFragment {
    /// Length of the whole XML document in bytes.
    pub total: u32,
    /// Offset of this fragment in the document.
    pub index: u32,
    /// The fragment's bytes.
    pub data: Vec<u8>,
}

/// Why bytes are not a packet.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PacketError {
    /// `len` is below the header size or above [`MAX_PACKET_BYTES`].
    #[error("packet length {len} is outside 4..={max}", max = MAX_PACKET_BYTES)]
    BadLength {
        /// The length read.
        len: usize,
    },
    /// A packet is shorter than its command needs.
    #[error("packet 0x{cmd:04x} is {len} bytes, too short")]
    TooShort {
        /// The command.
        cmd: u16,
        /// Its length.
        len: usize,
    },
    /// An SDK fragment that does not fit its document.
    #[error("SDK fragment at {index} of {len} bytes does not fit a {total}-byte document")]
    BadFragment {
        /// Fragment offset.
        index: u32,
        /// Fragment length.
        len: usize,
        /// Document length.
        total: u32,
    },
    /// A field that must be text is not UTF-8.
    #[error("file name or MD5 is not UTF-8")]
    NotUtf8,
    /// Something to encode is larger than a packet.
    #[error("{what} of {len} bytes does not fit one packet")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        len: usize,
    },
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

fn with_header(cmd: u16, payload_len: usize) -> Vec<u8> {
    let len = HEADER_BYTES + payload_len;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&cmd.to_le_bytes());
    out
}

fn nul_terminated(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

impl Packet {
    /// The command value.
    pub fn cmd(&self) -> u16 {
        match self {
            Packet::HeartbeatAsk => cmd::HEARTBEAT_ASK,
            Packet::HeartbeatAnswer => cmd::HEARTBEAT_ANSWER,
            Packet::Error { .. } => cmd::ERROR_ANSWER,
            Packet::ServiceAsk { .. } => cmd::SERVICE_ASK,
            Packet::ServiceAnswer { .. } => cmd::SERVICE_ANSWER,
            Packet::SdkAsk(_) => cmd::SDK_ASK,
            Packet::SdkAnswer(_) => cmd::SDK_ANSWER,
            Packet::FileStartAsk { .. } => cmd::FILE_START_ASK,
            Packet::FileStartAnswer { .. } => cmd::FILE_START_ANSWER,
            Packet::FileContent(_) => cmd::FILE_CONTENT_ASK,
            Packet::FileEndAsk => cmd::FILE_END_ASK,
            Packet::FileEndAnswer { .. } => cmd::FILE_END_ANSWER,
            Packet::Other { cmd, .. } => *cmd,
        }
    }

    /// The packet's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, PacketError> {
        let out = match self {
            Packet::HeartbeatAsk | Packet::HeartbeatAnswer | Packet::FileEndAsk => {
                with_header(self.cmd(), 0)
            }
            Packet::Error { code } | Packet::FileEndAnswer { status: code } => {
                let mut out = with_header(self.cmd(), 2);
                out.extend_from_slice(&code.to_le_bytes());
                out
            }
            Packet::ServiceAsk { version } | Packet::ServiceAnswer { version } => {
                let mut out = with_header(self.cmd(), 4);
                out.extend_from_slice(&version.to_le_bytes());
                out
            }
            Packet::SdkAsk(f) | Packet::SdkAnswer(f) => {
                if f.data.len() > MAX_XML_CHUNK {
                    return Err(PacketError::TooLarge {
                        what: "an SDK fragment",
                        len: f.data.len(),
                    });
                }
                let mut out = with_header(self.cmd(), 8 + f.data.len());
                out.extend_from_slice(&f.total.to_le_bytes());
                out.extend_from_slice(&f.index.to_le_bytes());
                out.extend_from_slice(&f.data);
                out
            }
            Packet::FileStartAsk {
                md5_hex,
                size,
                file_type,
                name,
            } => {
                // md5: 32 hex characters + NUL (33 bytes), size i64, type i16,
                // name + NUL: the vendor's `HFileStartAsk` and its C# demo.
                let name_bytes = name.as_bytes();
                let mut out = with_header(self.cmd(), 33 + 8 + 2 + name_bytes.len() + 1);
                let mut md5 = [0u8; 33];
                let hex = md5_hex.as_bytes();
                md5[..hex.len().min(32)].copy_from_slice(&hex[..hex.len().min(32)]);
                out.extend_from_slice(&md5);
                out.extend_from_slice(&size.to_le_bytes());
                out.extend_from_slice(&file_type.to_le_bytes());
                out.extend_from_slice(name_bytes);
                out.push(0);
                out
            }
            Packet::FileStartAnswer { status, exist_size } => {
                let mut out = with_header(self.cmd(), 10);
                out.extend_from_slice(&status.to_le_bytes());
                out.extend_from_slice(&exist_size.to_le_bytes());
                out
            }
            Packet::FileContent(data) => {
                if data.len() > MAX_FILE_CHUNK {
                    return Err(PacketError::TooLarge {
                        what: "a file chunk",
                        len: data.len(),
                    });
                }
                let mut out = with_header(self.cmd(), data.len());
                out.extend_from_slice(data);
                out
            }
            Packet::Other { cmd, payload } => {
                let mut out = with_header(*cmd, payload.len());
                out.extend_from_slice(payload);
                out
            }
        };
        if out.len() > MAX_PACKET_BYTES {
            return Err(PacketError::TooLarge {
                what: "a packet",
                len: out.len(),
            });
        }
        Ok(out)
    }

    /// Decodes one whole packet (`bytes.len()` equals its `len` field).
    pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < HEADER_BYTES || bytes.len() > MAX_PACKET_BYTES {
            return Err(PacketError::BadLength { len: bytes.len() });
        }
        let cmd = u16_at(bytes, 2);
        let body = &bytes[HEADER_BYTES..];
        let need = |n: usize| {
            if body.len() < n {
                Err(PacketError::TooShort {
                    cmd,
                    len: bytes.len(),
                })
            } else {
                Ok(())
            }
        };
        Ok(match cmd {
            cmd::HEARTBEAT_ASK => Packet::HeartbeatAsk,
            cmd::HEARTBEAT_ANSWER => Packet::HeartbeatAnswer,
            cmd::FILE_END_ASK => Packet::FileEndAsk,
            cmd::ERROR_ANSWER => {
                need(2)?;
                Packet::Error {
                    code: u16_at(body, 0),
                }
            }
            cmd::FILE_END_ANSWER => {
                need(2)?;
                Packet::FileEndAnswer {
                    status: u16_at(body, 0),
                }
            }
            cmd::SERVICE_ASK => {
                need(4)?;
                Packet::ServiceAsk {
                    version: u32_at(body, 0),
                }
            }
            cmd::SERVICE_ANSWER => {
                need(4)?;
                Packet::ServiceAnswer {
                    version: u32_at(body, 0),
                }
            }
            cmd::SDK_ASK | cmd::SDK_ANSWER => {
                need(8)?;
                let fragment = SdkFragment {
                    total: u32_at(body, 0),
                    index: u32_at(body, 4),
                    data: body[8..].to_vec(),
                };
                let end = u64::from(fragment.index) + fragment.data.len() as u64;
                if end > u64::from(fragment.total) {
                    return Err(PacketError::BadFragment {
                        index: fragment.index,
                        len: fragment.data.len(),
                        total: fragment.total,
                    });
                }
                if cmd == cmd::SDK_ASK {
                    Packet::SdkAsk(fragment)
                } else {
                    Packet::SdkAnswer(fragment)
                }
            }
            cmd::FILE_START_ASK => {
                need(33 + 8 + 2)?;
                let md5_hex = std::str::from_utf8(nul_terminated(&body[..33]))
                    .map_err(|_| PacketError::NotUtf8)?
                    .to_owned();
                let name = std::str::from_utf8(nul_terminated(&body[43..]))
                    .map_err(|_| PacketError::NotUtf8)?
                    .to_owned();
                Packet::FileStartAsk {
                    md5_hex,
                    size: u64_at(body, 33),
                    file_type: u16_at(body, 41),
                    name,
                }
            }
            cmd::FILE_START_ANSWER => {
                need(2)?;
                // The vendor's table says `len = 8` but lists 2 + 8 payload
                // bytes; the C# demo reads both. A short answer means 0.
                let exist_size = if body.len() >= 10 {
                    u64_at(body, 2)
                } else if body.len() >= 6 {
                    u64::from(u32_at(body, 2))
                } else {
                    0
                };
                Packet::FileStartAnswer {
                    status: u16_at(body, 0),
                    exist_size,
                }
            }
            cmd::FILE_CONTENT_ASK => Packet::FileContent(body.to_vec()),
            other => Packet::Other {
                cmd: other,
                payload: body.to_vec(),
            },
        })
    }
}

/// Splits an XML document into SDK packets (each at most [`MAX_PACKET_BYTES`]).
pub fn sdk_packets(xml: &[u8], answer: bool) -> Vec<Packet> {
    let total = xml.len() as u32;
    let mut out = Vec::new();
    let mut index = 0usize;
    loop {
        let end = (index + MAX_XML_CHUNK).min(xml.len());
        let fragment = SdkFragment {
            total,
            index: index as u32,
            data: xml[index..end].to_vec(),
        };
        out.push(if answer {
            Packet::SdkAnswer(fragment)
        } else {
            Packet::SdkAsk(fragment)
        });
        index = end;
        if index >= xml.len() {
            return out;
        }
    }
}

/// Splits a TCP byte stream into packets.
#[derive(Debug, Default)]
pub struct Deframer {
    /// Bytes received and not yet a whole packet.
    buffer: Vec<u8>,
}

impl Deframer {
    /// An empty deframer.
    pub fn new() -> Deframer {
        Deframer::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes held that are not yet a whole packet.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The next whole packet, if one has arrived. A bad length is an error
    /// and the buffer is dropped (the stream cannot be resynchronised; the
    /// caller closes the connection, as the vendor's demo does).
    pub fn next_packet(&mut self) -> Result<Option<Packet>, PacketError> {
        if self.buffer.len() < 2 {
            return Ok(None);
        }
        let len = usize::from(u16_at(&self.buffer, 0));
        if !(HEADER_BYTES..=MAX_PACKET_BYTES).contains(&len) {
            self.buffer.clear();
            return Err(PacketError::BadLength { len });
        }
        if self.buffer.len() < len {
            return Ok(None);
        }
        let packet = Packet::decode(&self.buffer[..len]);
        self.buffer.drain(..len);
        packet.map(Some)
    }
}

/// Reassembles an SDK XML document from its fragments.
#[derive(Debug, Default)]
pub struct SdkAssembler {
    /// The document so far.
    data: Vec<u8>,
    /// Its announced length.
    total: Option<u32>,
}

impl SdkAssembler {
    /// Adds a fragment; returns the document once complete.
    pub fn add(&mut self, fragment: SdkFragment) -> Result<Option<Vec<u8>>, PacketError> {
        if fragment.index == 0 {
            self.data.clear();
            self.total = Some(fragment.total);
        }
        if self.total != Some(fragment.total) || fragment.index as usize != self.data.len() {
            let error = PacketError::BadFragment {
                index: fragment.index,
                len: fragment.data.len(),
                total: fragment.total,
            };
            self.data.clear();
            self.total = None;
            return Err(error);
        }
        self.data.extend_from_slice(&fragment.data);
        if self.data.len() == fragment.total as usize {
            self.total = None;
            return Ok(Some(std::mem::take(&mut self.data)));
        }
        Ok(None)
    }
}

/// The vendor's name of an `HErrorCode`. Codes 0–33 are the same in every
/// document; from 34 on the 3.x document inserts `kDownloadingFile` and
/// `kProcessing` that the 2.x firmware lacks, so later codes are reported as
/// numbers.
pub fn error_name(code: u16) -> Option<&'static str> {
    const NAMES: [&str; 34] = [
        "kSuccess",
        "kWriteFinish",
        "kProcessError",
        "kVersionTooLow",
        "kDeviceOccupa",
        "kFileOccupa",
        "kReadFileExcessive",
        "kInvalidPacketLen",
        "kInvalidParam",
        "kNotSpaceToSave",
        "kCreateFileFailed",
        "kWriteFileFailed",
        "kReadFileFailed",
        "kInvalidFileData",
        "kFileContentError",
        "kOpenFileFailed",
        "kSeekFileFailed",
        "kRenameFailed",
        "kFileNotFound",
        "kFileNotFinish",
        "kXmlCmdTooLong",
        "kInvalidXmlIndex",
        "kParseXmlFailed",
        "kInvalidMethod",
        "kMemoryFailed",
        "kSystemError",
        "kUnsupportVideo",
        "kNotMediaFile",
        "kParseVideoFailed",
        "kUnsupportFrameRate",
        "kUnsupportResolution",
        "kUnsupportFormat",
        "kUnsupportDuration",
        "kDownloadFileFailed",
    ];
    NAMES.get(usize::from(code)).copied()
}

/// The code of a vendor error name (the inverse of [`error_name`]).
pub fn error_code(name: &str) -> Option<u16> {
    (0..34u16).find(|&c| error_name(c) == Some(name))
}
