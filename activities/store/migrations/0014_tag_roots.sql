-- Garbage-collector roots of tags: when a tag is pushed, the tag host roots its outputs'
-- closure in its Nix store (indirect roots in dir, one symlink per output), so that a
-- garbage collection never deletes what a kept tag needs. crest gc releases the roots of
-- old tags (removes dir, sets released_at); the newest finished tags are always kept.
CREATE TABLE tag_roots (
    collection_id  bigint NOT NULL REFERENCES collections (id),
    tag            text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('finished', 'unfinished', 'security')),
    dir            text NOT NULL,
    outputs        int NOT NULL,            -- rooted
    missing        int NOT NULL DEFAULT 0,  -- outputs neither in the store nor in the cache
    created_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    PRIMARY KEY (collection_id, tag)
);

-- Which builder made each build, and how many derivations Nix built for it (NULL: not
-- said; 0: everything came from the binary cache): with builders on many machines, where a
-- package was built and whether the cache spared the work.
ALTER TABLE builds ADD COLUMN builder text NOT NULL DEFAULT '';
ALTER TABLE builds ADD COLUMN built int;
