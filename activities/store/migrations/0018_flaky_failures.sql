-- Flaky failures, per package: a package that failed in a merge-queue candidate and passed
-- on a rebuild of the same derivation (the bisection's verdict). Nobody is ejected for it;
-- recording it per package lets people see which packages fail at random, and how often.
CREATE TABLE flaky_failures (
    batch_id  bigint NOT NULL REFERENCES queue_batches (id) ON DELETE CASCADE,
    system    text NOT NULL,
    package   text NOT NULL,
    log_tail  text NOT NULL DEFAULT '',  -- the candidate's failing build
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, system, package)
);
CREATE INDEX flaky_failures_package ON flaky_failures (package, system);
