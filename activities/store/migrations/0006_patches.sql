-- Security patches (the SecurityPatch workflow): one row per patch, one per finished tag it
-- covers (with the <tag>-security-K tag it produced), and the grafts it left as debt
-- against the major wave of that tag, until a later minor wave rebuilds the dependent
-- against the patched package (retired_by names that wave's tag).

CREATE TABLE patches (
    id             bigserial PRIMARY KEY,
    collection_id  bigint NOT NULL REFERENCES collections (id),
    workflow_id    text NOT NULL UNIQUE,
    package        text NOT NULL,
    ref            text NOT NULL,
    strategy       text NOT NULL,            -- as requested; the chosen one once decided
    severity       text NOT NULL,
    advisory       text NOT NULL DEFAULT '',
    state          text NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    reason         text NOT NULL DEFAULT '', -- why it is in state, and what a person may do
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patches_collection ON patches (collection_id, created_at);

-- A covered tag and its security tag. K counts per covered tag, whichever patch made it.
CREATE TABLE patch_tags (
    patch_id       bigint NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
    collection_id  bigint NOT NULL REFERENCES collections (id),
    covered_tag    text NOT NULL,            -- wave-N-M
    number         int NOT NULL,             -- K
    name           text NOT NULL,            -- wave-N-M-security-K
    branch         text NOT NULL,
    commit         text NOT NULL DEFAULT '',
    state          text NOT NULL CHECK (state IN ('running', 'tagged', 'failed')),
    reason         text NOT NULL DEFAULT '',
    summary        jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    tagged_at      timestamptz,
    PRIMARY KEY (patch_id, covered_tag),
    UNIQUE (collection_id, name),
    UNIQUE (collection_id, covered_tag, number)
);

-- One graft: a dependent's output in the covered tag rewritten onto the patched package.
CREATE TABLE grafts (
    patch_id            bigint NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
    covered_tag         text NOT NULL,
    wave_id             bigint NOT NULL REFERENCES waves (id),  -- whose debt it is
    system              text NOT NULL,
    package             text NOT NULL,       -- the grafted dependent
    patched_package     text NOT NULL,
    patched_drv         text NOT NULL,       -- the patched package's derivation
    vulnerable_version  text NOT NULL,       -- the patched package's version in the covered tag
    old_path            text NOT NULL,
    new_path            text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    retired_by          text NOT NULL DEFAULT '',
    retired_at          timestamptz,
    PRIMARY KEY (patch_id, covered_tag, system, package)
);
CREATE INDEX grafts_open ON grafts (system, package) WHERE retired_at IS NULL;
