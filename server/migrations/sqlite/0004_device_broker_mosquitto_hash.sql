-- Delivery (issue 6): each device's broker password also stored as a Mosquitto
-- `$6$` hash, so `ledcast-server broker-config mosquitto` can write the password
-- file at any time. NULL for devices enrolled before this column existed
-- (re-enroll them to give them a Mosquitto login).
ALTER TABLE device_keys ADD COLUMN broker_password_mosquitto TEXT;
