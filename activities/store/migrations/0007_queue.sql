-- The merge queue: approved changes waiting to reach a target branch, the batches built as
-- candidate commits, and the probes of failure-targeted bisections.
--
-- Builds go through the build engine, whose package_results, frontier and builds rows are
-- keyed by minor_wave_id. Rather than generalize that key, every queue build (a batch's
-- candidate commit, or one probe) is recorded as a build round of its own: a waves row with
-- a negative number (from queue_build_numbers, so it never collides with a major wave's and
-- is left out of wave listings and number allocation) holding one minor_waves row. One holder
-- per build keeps builds apart: the engine's gates look across the minor waves of one wave,
-- and a probe of another commit must never inherit a candidate's failures.
CREATE SEQUENCE queue_build_numbers;

CREATE TABLE queue_changes (
    id             bigserial PRIMARY KEY,
    key            text NOT NULL UNIQUE,    -- from the workflow: a retried submission records once
    collection_id  bigint NOT NULL REFERENCES collections (id),
    branch         text NOT NULL,           -- the target branch
    ref            text NOT NULL,           -- as submitted
    commit         text NOT NULL DEFAULT '',-- what ref named at submission
    title          text NOT NULL DEFAULT '',
    labels         text[] NOT NULL DEFAULT '{}',
    submitted_by   text NOT NULL DEFAULT '',
    lane           text NOT NULL DEFAULT '' CHECK (lane IN ('', 'fast', 'wave', 'priority')),
    lane_reason    text NOT NULL DEFAULT '',
    rebuilds       int NOT NULL DEFAULT 0,  -- size of its own rebuild set (on the head it was laned on)
    state          text NOT NULL CHECK (state IN ('queued', 'batched', 'merged', 'ejected', 'withdrawn', 'handed-to-wave')),
    reason         text NOT NULL DEFAULT '',
    batch_id       bigint,                  -- the latest batch it was in
    attempts       int NOT NULL DEFAULT 0,  -- batches it was in
    evidence       jsonb,                   -- why it was ejected: failed packages, log tails, probes
    submitted_at   timestamptz NOT NULL DEFAULT now(),
    batched_at     timestamptz,             -- first batched
    built_at       timestamptz,             -- its final candidate finished building
    merged_at      timestamptz,
    ejected_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_changes_queue ON queue_changes (collection_id, branch, state);

CREATE TABLE queue_batches (
    id               bigserial PRIMARY KEY,
    collection_id    bigint NOT NULL REFERENCES collections (id),
    branch           text NOT NULL,
    key              text NOT NULL UNIQUE,  -- from the workflow: idempotent start
    lane             text NOT NULL,
    members          bigint[] NOT NULL,     -- change IDs in candidate order
    base_commit      text NOT NULL DEFAULT '',
    candidate_commit text NOT NULL DEFAULT '',
    minor_wave_id    bigint REFERENCES minor_waves (id), -- its build round
    state            text NOT NULL CHECK (state IN ('building', 'bisecting', 'merged', 'failed', 'conflict')),
    reason           text NOT NULL DEFAULT '',
    packages         int NOT NULL DEFAULT 0, -- packages the candidate built
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

CREATE TABLE queue_probes (
    id             bigserial PRIMARY KEY,
    batch_id       bigint NOT NULL REFERENCES queue_batches (id) ON DELETE CASCADE,
    round          int NOT NULL,
    kind           text NOT NULL,
    prefix         int NOT NULL,
    commit         text NOT NULL DEFAULT '',
    packages       text[] NOT NULL,
    failed         text[],                   -- NULL until recorded
    minor_wave_id  bigint REFERENCES minor_waves (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    UNIQUE (batch_id, round, kind, prefix)
);
