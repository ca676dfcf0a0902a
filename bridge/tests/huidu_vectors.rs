//! Test vectors: the bytes and documents the public sources give, byte for
//! byte. Sources (see docs/bridges/huidu.md):
//! - [vendor-doc] Huidu "SDK XML帮助文档" (SDK 3.x), published by Huidu in its
//!   SDK repository (doc/SDK XML帮助文档.docx);
//! - [vendor-cs] Huidu's C# demo (github.com/huidutech/sdk,
//!   fullcolor/demo/csharp/RemoteServer: SDKClient.cs, FileServices.cs,
//!   XmlCmd.cs, setting/Light.cs);
//! - [vendor-http] the HTTP API README of the same SDK, whose `raw` field
//!   quotes a card's real `GetDeviceInfo` answer.

use ledcast_bridge::huidu::packet::{self, sdk_packets, Deframer, Packet, SdkFragment};
use ledcast_bridge::huidu::sdk::{self, Answer, Luminance, LuminanceItem, LuminanceMode};

#[test]
fn version_ask_is_the_vendor_demo_packet() {
    // [vendor-cs] SDKClient.SendVersionAsk: len = 8, cmd = kSDKServiceAsk
    // (0x2001), version = TCP_VERSION (0x1000005), little-endian.
    let bytes = Packet::ServiceAsk {
        version: packet::TRANSPORT_VERSION,
    }
    .encode()
    .unwrap();
    assert_eq!(bytes, [0x08, 0x00, 0x01, 0x20, 0x05, 0x00, 0x00, 0x01]);
    assert_eq!(
        Packet::decode(&bytes).unwrap(),
        Packet::ServiceAsk {
            version: 0x0100_0005
        }
    );
}

#[test]
fn heartbeat_and_file_end_are_the_documented_four_byte_packets() {
    // [vendor-doc] §1.8: len 4, kTcpHeartbeatAsk = 0x005f (answer 0x0060).
    assert_eq!(
        Packet::HeartbeatAsk.encode().unwrap(),
        [0x04, 0x00, 0x5f, 0x00]
    );
    assert_eq!(
        Packet::HeartbeatAnswer.encode().unwrap(),
        [0x04, 0x00, 0x60, 0x00]
    );
    // [vendor-cs] FileServices.SendFileEndAsk: len 4, kFileEndAsk = 0x8005.
    assert_eq!(
        Packet::FileEndAsk.encode().unwrap(),
        [0x04, 0x00, 0x05, 0x80]
    );
    // [vendor-doc] §1.7: error answer, len 6, kErrorAnswer = 0x2000, code.
    assert_eq!(
        Packet::Error { code: 9 }.encode().unwrap(),
        [0x06, 0x00, 0x00, 0x20, 0x09, 0x00]
    );
}

/// [vendor-cs] SDKClient.SendGetIFVersion, after `Replace("##version", "1000000")`.
const VENDOR_GET_IF_VERSION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<sdk guid=\"##GUID\">\n    <in method=\"GetIFVersion\">\n        <version value=\"1000000\"/>\n    </in>\n</sdk>\n";

#[test]
fn get_if_version_is_the_vendor_demo_document_and_frames_as_the_demo_does() {
    let xml = sdk::get_if_version();
    assert_eq!(xml, VENDOR_GET_IF_VERSION);
    // [vendor-cs] SendXmlCmd: [len][0x2003][total][index][xml], len = 12 + n.
    let packets = sdk_packets(xml.as_bytes(), false);
    assert_eq!(packets.len(), 1);
    let bytes = packets[0].encode().unwrap();
    let n = VENDOR_GET_IF_VERSION.len();
    let mut expected = Vec::new();
    expected.extend_from_slice(&((12 + n) as u16).to_le_bytes());
    expected.extend_from_slice(&[0x03, 0x20]);
    expected.extend_from_slice(&(n as u32).to_le_bytes());
    expected.extend_from_slice(&[0, 0, 0, 0]);
    expected.extend_from_slice(VENDOR_GET_IF_VERSION.as_bytes());
    assert_eq!(bytes, expected);
    assert_eq!(&bytes[..4], &[(12 + n) as u8, 0x00, 0x03, 0x20]);
}

/// [vendor-cs] XmlCmd.header + Light.SetLuminancePloy() ("##mode" = "default") + XmlCmd.end.
const VENDOR_SET_LUMINANCE: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
    "<sdk guid=\"##GUID\">\n",
    "    <in method=\"SetLuminancePloy\">\n",
    "        <mode value=\"default\"/>\n",
    "        <default value=\"80\"/>\n",
    "        <sensor min=\"1\" max=\"100\" time=\"5\"/>\n",
    "        <ploy>\n",
    "            <item enable=\"true\" start=\"00:00:00\" percent=\"1\"/>\n",
    "            <item enable=\"true\" start=\"03:00:00\" percent=\"22\"/>\n",
    "            <item enable=\"true\" start=\"06:00:00\" percent=\"100\"/>\n",
    "        </ploy>\n",
    "    </in>\n",
    "</sdk>\n",
);

#[test]
fn set_luminance_is_the_vendor_demo_document() {
    let item = |start: &str, percent| LuminanceItem {
        enable: true,
        start: start.to_owned(),
        percent,
    };
    let luminance = Luminance {
        mode: LuminanceMode::Default,
        default_percent: 80,
        sensor_min: 1,
        sensor_max: 100,
        sensor_seconds: 5,
        items: vec![
            item("00:00:00", 1),
            item("03:00:00", 22),
            item("06:00:00", 100),
        ],
    };
    assert_eq!(
        sdk::set_luminance(sdk::PLACEHOLDER_GUID, &luminance),
        VENDOR_SET_LUMINANCE
    );
}

#[test]
fn vendor_answers_parse() {
    // [vendor-doc] §1.6 GetIFVersion answer (the guid the card assigns).
    let a = Answer::parse(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><sdk guid=\"f7b3b451c4f3cf3310e2d6714fbb50e8\">\n      <out method=\"GetIFVersion\" result=\"kSuccess\">\n        <version value=\"1000000\"/>\n      </out>\n</sdk>",
    )
    .unwrap();
    assert_eq!(a.guid, "f7b3b451c4f3cf3310e2d6714fbb50e8");
    assert_eq!(a.method, "GetIFVersion");
    assert!(a.is_success());
    // [vendor-doc] §3.2 AddProgram answer (attributes in the other order).
    let a = Answer::parse(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"60d8e6cf300469752bf9674c89928f7e\">\n<out result=\"kSuccess\" method=\"AddProgram\"/>\n</sdk>",
    )
    .unwrap();
    assert_eq!((a.method.as_str(), a.is_success()), ("AddProgram", true));
    // [vendor-doc] §4.21 GetLuminancePloy answer.
    let a = Answer::parse(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"f96957643084953befcbd2c1a16f7617\">\n    <out method=\"GetLuminancePloy\" result=\"kSuccess\">\n        <mode value=\"default\"/>\n        <default value=\"100\"/>\n        <sensor min=\"1\" max=\"100\" time=\"5\"/>\n        <ploy>\n            <item enable=\"true\" start=\"06:00:00\" percent=\"80\"/>\n        </ploy>\n</out>\n</sdk>",
    )
    .unwrap();
    let l = sdk::luminance(&a).unwrap();
    assert_eq!(l.mode, LuminanceMode::Default);
    assert_eq!(l.default_percent, 100);
    assert_eq!(l.percent_at(12 * 3600), Some(100));
    // [vendor-http] a C16L card's real GetDeviceInfo answer (quoted in `raw`).
    let a = Answer::parse(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"331a61827a1d7707208524bba7c2ed84\">\n    <out result=\"kSuccess\" xmlns=\"GetDeviceInfo\" eventId=\"getDeviceProperty\">\n        <device model=\"C16L\" cpu=\"RK.px30\" name=\"BoxPlayer\" id=\"C16L-D00-A000F\"/>\n        <version kernel=\"\" hardware=\"HD-C16L-V1.X\" fpga=\"16.12.0.0\" app=\"7.10.78.1\"/>\n        <screen rotation=\"0\" width=\"128\" height=\"64\"/>\n    </out>\n</sdk>",
    )
    .unwrap();
    let info = sdk::device_info(&a).unwrap();
    assert_eq!(
        (
            info.id.as_str(),
            info.model.as_str(),
            info.width,
            info.height
        ),
        ("C16L-D00-A000F", "C16L", 128, 64)
    );
    assert_eq!(info.app_version, "7.10.78.1");
    // [vendor-doc] §3.8 and a failure result.
    let a = Answer::parse(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sdk guid=\"fafaed9fdb9668a5bb06c01f55e95518\">\n    <out result=\"kSuccess\" method=\"GetCurrentPlayProgramGUID\">\n        <program guid=\"{41d60f81-f3d5-4357-94fe-8bbaf158d06c}\"/>\n</out>\n</sdk>",
    )
    .unwrap();
    assert_eq!(
        sdk::current_program(&a).as_deref(),
        Some("{41d60f81-f3d5-4357-94fe-8bbaf158d06c}")
    );
    let a = Answer::parse(
        "<sdk guid=\"x\"><out method=\"AddProgram\" result=\"kNotSpaceToSave\"/></sdk>",
    )
    .unwrap();
    assert!(!a.is_success());
}

#[test]
fn file_start_ask_has_the_documented_layout() {
    // [vendor-doc] §1.9 / [vendor-cs] SendFileStartAsk: md5 (32 hex + NUL),
    // size (8 bytes), type (2 bytes), name + NUL; len = 2+2+33+8+2+name+1.
    // The MD5, size and name are the vendor doc's image example (§2.3.2).
    let packet = Packet::FileStartAsk {
        md5_hex: "f9d26a02906d1f8d4d2ce6cd8209820a".to_owned(),
        size: 32768,
        file_type: 0,
        name: "1.png".to_owned(),
    };
    let mut expected = vec![53, 0x00, 0x01, 0x80];
    expected.extend_from_slice(b"f9d26a02906d1f8d4d2ce6cd8209820a\0");
    expected.extend_from_slice(&[0x00, 0x80, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0x00, 0x00]);
    expected.extend_from_slice(b"1.png\0");
    let bytes = packet.encode().unwrap();
    assert_eq!(bytes, expected);
    assert_eq!(Packet::decode(&bytes).unwrap(), packet);
    // [vendor-cs] RecvFileStartAnswer reads status (2) then existSize (8).
    let answer = [14, 0, 0x02, 0x80, 0, 0, 0x10, 0x27, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        Packet::decode(&answer).unwrap(),
        Packet::FileStartAnswer {
            status: 0,
            exist_size: 10_000
        }
    );
}

#[test]
fn long_xml_is_split_as_the_vendor_demo_splits_it() {
    // [vendor-cs] SendXmlCmd: fragments of MAX_TCP_PACKET - 12 = 9204 bytes,
    // index = offset of the fragment.
    let xml = vec![b'x'; 20_000];
    let packets = sdk_packets(&xml, false);
    let fragments: Vec<(u32, u32, usize)> = packets
        .iter()
        .map(|p| match p {
            Packet::SdkAsk(SdkFragment { total, index, data }) => (*total, *index, data.len()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        fragments,
        vec![
            (20_000, 0, 9204),
            (20_000, 9204, 9204),
            (20_000, 18_408, 1592)
        ]
    );
    // A byte stream split anywhere deframes to the same packets.
    let stream: Vec<u8> = packets.iter().flat_map(|p| p.encode().unwrap()).collect();
    let mut deframer = Deframer::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(777) {
        deframer.push(chunk);
        while let Some(p) = deframer.next_packet().unwrap() {
            out.push(p);
        }
    }
    assert_eq!(out, packets);
}

#[test]
fn bad_lengths_are_refused_not_guessed() {
    let mut deframer = Deframer::new();
    deframer.push(&[0x02, 0x00, 0x5f, 0x00]);
    assert!(deframer.next_packet().is_err());
    assert!(Packet::decode(&[0x0c, 0x00, 0x03, 0x20, 1, 0, 0, 0, 5, 0, 0, 0]).is_err());
    assert_eq!(packet::error_name(9), Some("kNotSpaceToSave"));
    assert_eq!(packet::error_code("kFileNotFinish"), Some(19));
}
