//! Delivery over MQTT: the embedded broker, the signed publisher, presence and
//! play-record ingest. Not built yet (issue "Delivery over MQTT").
