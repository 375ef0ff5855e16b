-- The two-stage wave lane: a wave-lane batch built green aside ends 'built'; its changes go
-- back to the queue (built_at set) and are merged later as one unit by a batch of their own.
ALTER TABLE queue_batches DROP CONSTRAINT queue_batches_state_check;
ALTER TABLE queue_batches ADD CONSTRAINT queue_batches_state_check
    CHECK (state IN ('building', 'bisecting', 'merged', 'failed', 'conflict', 'built'));
