-- Tags of unfinished minor waves: wave-N-Mpre is pushed when a minor wave's builds are done
-- while some of its failures still wait to be settled, so that a maintainer who accepts
-- less stability can pin into the wave before it finishes (crest pin --unfinished). They
-- live apart from tags, which hold finished minor waves only: everything that reads tags
-- (pinning by default, upstream wave tags, graft debt, the site's list) means finished.
CREATE TABLE unfinished_tags (
    collection_id  bigint NOT NULL REFERENCES collections (id),
    name           text NOT NULL,
    minor_wave_id  bigint NOT NULL REFERENCES minor_waves (id) ON DELETE CASCADE,
    commit         text NOT NULL,
    message        text NOT NULL,
    summary        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, name)
);
