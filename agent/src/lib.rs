//! The ledcast agent library: a sans-IO player core driven by one event loop
//! that owns MQTT, HTTP downloads, the disk and the display sink.
