-- Builders announce themselves: every build worker says, for its system, how many builds it
-- runs at once (its slots), and refreshes that while it lives. A dependency-driven round
-- dispatches as many builds as the live slots of its system, not a fixed window: builds
-- handed to Temporal beyond the free slots would wait in its queue in arrival order, out of
-- critical-path order, and too few would leave builders idle.
CREATE TABLE builders (
    identity  text PRIMARY KEY,              -- the worker's, e.g. host:pid/x86_64-linux
    system    text NOT NULL,
    slots     int NOT NULL CHECK (slots > 0),
    seen_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX builders_system ON builders (system, seen_at);
