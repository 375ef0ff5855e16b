-- Crest's first schema: collections and their evaluations (package graphs), major and minor
-- waves with per-package results, builds, tags, issues and the audit log.
--
-- Sizing: an evaluation holds up to ~100k packages and ~1M edges, and a collection gathers
-- hundreds of evaluations. Packages are numbered densely per evaluation (idx) so an edge is
-- two int4s keyed by its evaluation; both tables are filled with COPY and dropped with their
-- evaluation (ON DELETE CASCADE) by retention.

CREATE TABLE collections (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    remote      text NOT NULL DEFAULT '',
    settings    jsonb NOT NULL DEFAULT '{}', -- systems, protected roots, tag prefix, policy; never secrets
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evaluations (
    id             bigserial PRIMARY KEY,
    collection_id  bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    commit         text NOT NULL,
    system         text NOT NULL,
    package_count  int NOT NULL,
    edge_count     int NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, commit, system)
);

CREATE TABLE packages (
    evaluation_id  bigint NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    idx            int NOT NULL,
    key            text NOT NULL,
    name           text NOT NULL,
    version        text NOT NULL DEFAULT '',
    drv            text NOT NULL DEFAULT '',
    tests          jsonb,
    maintainers    text[],
    broken         boolean NOT NULL DEFAULT false,
    cost           jsonb,
    PRIMARY KEY (evaluation_id, idx),
    UNIQUE (evaluation_id, key)
);
CREATE INDEX packages_drv ON packages (drv);

-- No foreign keys on edges: they would double the cost of the bulk load, and both ends are
-- written in the same transaction as their packages.
CREATE TABLE edges (
    evaluation_id  bigint NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    pkg            int NOT NULL,
    dep            int NOT NULL,
    PRIMARY KEY (evaluation_id, pkg, dep)
);

CREATE TABLE waves (
    id             bigserial PRIMARY KEY,
    collection_id  bigint NOT NULL REFERENCES collections (id),
    number         int NOT NULL,
    workflow_id    text NOT NULL UNIQUE,
    title          text NOT NULL DEFAULT '',
    base_ref       text NOT NULL,
    base_commit    text NOT NULL DEFAULT '',
    branch         text NOT NULL,
    state          text NOT NULL,
    input          jsonb NOT NULL,
    plan           jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, number)
);

CREATE TABLE minor_waves (
    id             bigserial PRIMARY KEY,
    wave_id        bigint NOT NULL REFERENCES waves (id) ON DELETE CASCADE,
    number         int NOT NULL,
    name           text NOT NULL,
    state          text NOT NULL,
    updates        jsonb NOT NULL DEFAULT '[]',
    evaluation_id  bigint REFERENCES evaluations (id),
    commit         text NOT NULL DEFAULT '',
    summary        jsonb,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    UNIQUE (wave_id, number)
);

-- One row per package a minor wave rebuilds: where it stands and why. A build round (the
-- initial one, then one per retry) lays its packages out in dependency layers cut into
-- shards, each built by one child workflow.
CREATE TABLE package_results (
    minor_wave_id  bigint NOT NULL REFERENCES minor_waves (id) ON DELETE CASCADE,
    system         text NOT NULL,
    package        text NOT NULL,
    drv            text NOT NULL DEFAULT '',
    round          int NOT NULL DEFAULT 0,
    layer          int NOT NULL DEFAULT 0,
    shard          int NOT NULL DEFAULT 0,
    status         text NOT NULL CHECK (status IN ('pending', 'passed', 'failed', 'test-failed', 'dependency-failed')),
    resolution     text NOT NULL DEFAULT '',
    reason         text NOT NULL DEFAULT '',
    blocked_by     text[] NOT NULL DEFAULT '{}',
    attempts       int NOT NULL DEFAULT 0,
    log_tail       text NOT NULL DEFAULT '',
    notified_at    timestamptz,          -- when its maintainers were told (issue filed or updated)
    issue          text NOT NULL DEFAULT '',  -- where people answer (URL or local#N)
    fingerprint    text NOT NULL DEFAULT '',  -- of the failure its issue is about
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (minor_wave_id, system, package)
);
CREATE INDEX package_results_shard ON package_results (minor_wave_id, system, round, layer, shard);
CREATE INDEX package_results_package ON package_results (package, status);

-- One row per build (with its tests) of a package's derivation, keyed by the workflow's
-- idempotency key, so a retried activity finds its own earlier result.
CREATE TABLE builds (
    key            text PRIMARY KEY,
    minor_wave_id  bigint REFERENCES minor_waves (id) ON DELETE CASCADE,
    package        text NOT NULL DEFAULT '',
    drv            text NOT NULL,
    system       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'passed', 'failed', 'test-failed')),
    outputs      text[],
    exit_code    int,
    log_tail     text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX builds_drv ON builds (drv, status);
CREATE INDEX builds_minor_wave ON builds (minor_wave_id, package);

CREATE TABLE tags (
    collection_id  bigint NOT NULL REFERENCES collections (id),
    name           text NOT NULL,
    minor_wave_id  bigint REFERENCES minor_waves (id),
    commit         text NOT NULL,
    message        text NOT NULL,
    summary        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, name)
);

-- Issues Crest filed, one per root cause (fingerprint), on whichever tracker.
CREATE TABLE issues (
    id             bigserial PRIMARY KEY,
    collection_id  bigint NOT NULL REFERENCES collections (id),
    fingerprint    text NOT NULL,
    package        text NOT NULL,
    tracker        text NOT NULL,
    tracker_ref    text NOT NULL DEFAULT '',
    url            text NOT NULL DEFAULT '',
    state          text NOT NULL CHECK (state IN ('open', 'closed')),
    title          text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX issues_open_fingerprint ON issues (collection_id, fingerprint) WHERE state = 'open';

-- Every decision with its reason. key makes recording idempotent under activity retries.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    key         text UNIQUE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    wave        text NOT NULL DEFAULT '',
    package     text NOT NULL DEFAULT '',
    action      text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    details     jsonb
);
CREATE INDEX audit_log_wave ON audit_log (wave, at);
