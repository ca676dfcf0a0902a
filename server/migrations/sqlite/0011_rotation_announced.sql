-- Issue 21: every stored rotation is published once per change. A serving
-- server that stores a rotation publishes it itself (announced = 1); one
-- stored by a process that does not publish (`ledcast-server apply`) waits
-- with announced = 0 until exactly one serving replica claims it.
ALTER TABLE rotations ADD COLUMN announced BIGINT NOT NULL DEFAULT 1;
CREATE INDEX rotations_unannounced ON rotations (screen_id) WHERE announced = 0;
