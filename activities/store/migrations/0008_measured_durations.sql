-- Measured build durations for the cost model: the planner and the build engine price a
-- package by how long its last completed build on the same system took (finished_at -
-- started_at), as Hydra's build history does, before falling back to the structural
-- estimate. They ask for up to 100,000 packages at once, each the newest of possibly
-- hundreds of builds of that package: one probe of this index per package, reading the
-- first entry and (index-only, with started_at included) never the table. Only completed
-- builds are indexed: a failed build may have stopped at any point, a running one has no
-- duration yet.
CREATE INDEX builds_measured ON builds (system, package, finished_at DESC) INCLUDE (started_at)
    WHERE status IN ('passed', 'test-failed') AND finished_at IS NOT NULL;
