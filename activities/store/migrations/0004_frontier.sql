-- The build frontier of dependency-driven rounds: per package of a round, how many of its
-- dependencies inside the round are not final yet, and its bottom level (remaining critical
-- path from the cost model) as priority. The ready set is remaining = 0 and pending, best
-- priority first. Recording a result decrements its dependents in the same transaction;
-- a failure marks them dependency-failed there too. Rounds laid out in layers (waves
-- started before the build engine) have no frontier rows.
CREATE TABLE frontier (
    minor_wave_id  bigint NOT NULL REFERENCES minor_waves (id) ON DELETE CASCADE,
    system         text NOT NULL,
    package        text NOT NULL,
    round          int NOT NULL,
    remaining      int NOT NULL,
    priority       double precision NOT NULL,
    deps           text[] NOT NULL DEFAULT '{}', -- inside the round
    dependents     text[] NOT NULL DEFAULT '{}', -- inside the round
    taken          text NOT NULL DEFAULT '',     -- the take that handed it to a dispatcher
    PRIMARY KEY (minor_wave_id, system, package)
);
CREATE INDEX frontier_ready ON frontier (minor_wave_id, system, round, priority DESC, package) WHERE remaining = 0 AND taken = '';
CREATE INDEX frontier_taken ON frontier (minor_wave_id, system, taken) WHERE taken <> '';
