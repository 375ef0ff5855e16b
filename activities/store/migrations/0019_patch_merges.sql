-- A security patch reaches running major waves too (issue 11, "graft debt, retired
-- automatically"): its fix is merged onto each running wave's branch whose base contains
-- the patched package, by the wave itself (so the merge is serialized with the wave's own
-- branch writes), and the next minor wave rebuilds the dependents against the fix, which
-- retires the grafts. One row per patch and wave: merged (commit on the wave branch) or
-- refused (a conflict, with the reason; nothing on the branch changed).
CREATE TABLE patch_merges (
    patch_id    bigint NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
    wave_id     bigint NOT NULL REFERENCES waves (id),
    wave        text NOT NULL,                -- wave-N
    branch      text NOT NULL,
    state       text NOT NULL CHECK (state IN ('merged', 'refused')),
    commit      text NOT NULL DEFAULT '',     -- the wave branch's head after the merge
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patch_id, wave_id)
);
