-- Build slots (BuildSlot activities) take from a round's frontier until it is done; a
-- dispatcher that pauses, is cancelled or continues as new stops a generation of its slots
-- here, and each slot ends once what it builds is recorded. Rows are a few bytes per stop.
CREATE TABLE slot_stops (
    owner       text NOT NULL,
    generation  integer NOT NULL,
    stopped_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, generation)
);
