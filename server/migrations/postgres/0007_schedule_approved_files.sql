-- A schedule that was approved once stays on air as approved while a later
-- change to it waits for (or was refused) approval: the playlist files as
-- they were when the schedule was last approved, as JSON
-- [{"name": …, "text": …}]. NULL for a schedule never approved. Kept in step
-- with the other backend.
ALTER TABLE schedules ADD COLUMN approved_files TEXT;
