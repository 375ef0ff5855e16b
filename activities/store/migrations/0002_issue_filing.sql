-- Issue filing: the issues Crest files for root causes, the outbox that makes filing
-- exactly-once under activity retries, and the issues of the local tracker that `crest dev`
-- files into.
--
-- The issues table of 0001 was a placeholder nothing wrote to; it is replaced.

DROP TABLE IF EXISTS issues;

-- One row per issue Crest files: one per root cause (fingerprint) at a time. A recurrence
-- of the failure comments on the open issue; once it is closed (fixed, wont-fix, cant-fix)
-- the same failure later gets a new row and a new issue.
CREATE TABLE issues (
    id             bigserial PRIMARY KEY,
    collection_id  bigint NOT NULL REFERENCES collections (id),
    fingerprint    text NOT NULL,
    package        text NOT NULL,
    tracker        text NOT NULL,                 -- tracker.Tracker Name: local, github
    repo           text NOT NULL DEFAULT '',      -- tracker.Ref Repo
    number         bigint,                        -- NULL until the tracker has filed it
    url            text NOT NULL DEFAULT '',
    state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    close_reason   text NOT NULL DEFAULT '',      -- completed, not_planned, superseded
    resolution     text NOT NULL DEFAULT '',      -- last resolution written: fixed, wont-fix, cant-fix, marked-broken
    title          text NOT NULL,
    first_major    int NOT NULL,                  -- wave-N-M the failure was first seen in
    first_minor    int NOT NULL,
    last_major     int NOT NULL,                  -- and last seen in
    last_minor     int NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz
);
CREATE UNIQUE INDEX issues_open_fingerprint ON issues (collection_id, fingerprint) WHERE state = 'open';
CREATE INDEX issues_package ON issues (collection_id, package);
CREATE INDEX issues_tracker_number ON issues (tracker, number);

-- The outbox: one row per thing Crest writes to an issue, keyed by
-- <collection>/<fingerprint>/wave-N-M/<event>[/<attempt>]. It is recorded (pending) before
-- the tracker call and marked done after it, so a retried activity either finds it done and
-- returns the recorded result, or repeats the tracker call, which is idempotent on its own
-- (fingerprint and comment markers). last_error holds the tracker's scrubbed message.
CREATE TABLE issue_events (
    id            bigserial PRIMARY KEY,
    key           text NOT NULL UNIQUE,
    issue_id      bigint NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('open', 'comment', 'close', 'resolution')),
    event         text NOT NULL,                  -- open, recurred, fixed, wont-fix, cant-fix, marked-broken
    major         int NOT NULL,
    minor         int NOT NULL,
    attempt       int NOT NULL DEFAULT 0,
    comment_key   text NOT NULL DEFAULT '',       -- the key the tracker dedupes the comment by
    title         text NOT NULL DEFAULT '',       -- rendered payload
    body          text NOT NULL DEFAULT '',
    labels        text[] NOT NULL DEFAULT '{}',
    assignees     text[] NOT NULL DEFAULT '{}',
    close_reason  text NOT NULL DEFAULT '',
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    attempts      int NOT NULL DEFAULT 0,         -- tracker calls made for it
    last_error    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz
);
CREATE INDEX issue_events_issue ON issue_events (issue_id, id);
CREATE INDEX issue_events_pending ON issue_events (created_at) WHERE state = 'pending';

-- The local tracker (activities/tracker/local): issues kept in this database, for
-- `crest dev`. Numbers are global; repo names an issue space ('' for the only one).
CREATE TABLE local_issues (
    number        bigserial PRIMARY KEY,
    repo          text NOT NULL DEFAULT '',
    fingerprint   text NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL DEFAULT '',
    labels        text[] NOT NULL DEFAULT '{}',
    assignees     text[] NOT NULL DEFAULT '{}',
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    close_reason  text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz
);
CREATE UNIQUE INDEX local_issues_open_fingerprint ON local_issues (repo, fingerprint) WHERE state = 'open';

-- Comments on local issues: Crest's carry their key (unique per issue), people's have none.
CREATE TABLE local_issue_comments (
    id          bigserial PRIMARY KEY,
    issue       bigint NOT NULL REFERENCES local_issues (number) ON DELETE CASCADE,
    key         text,
    author      text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issue, key)
);
