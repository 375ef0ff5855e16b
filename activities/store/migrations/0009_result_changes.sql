-- Progress recorded as it happens: how the number of a minor wave's results in each
-- (status, resolution) changed, and when, for the burndown of remaining builds and the
-- timeline of failures and resolutions. Deriving them from each result's last update lost
-- history: a retried package forgot when it first failed, and a resolution moved a
-- failure's point to the time it was settled.
--
-- Triggers rather than a line in every writer: six store functions change results (laying
-- out a round, gating, recording a build, the frontier's dependency failures, resolving,
-- following), and one writer forgotten would make every picture quietly wrong. They run
-- once per statement over its transition tables and write net changes: a statement that
-- blocks 3,000 packages writes two rows (3,000 fewer pending, 3,000 more
-- dependency-failed), not 3,000; one that changes no status or resolution (a retry's last
-- error, a notification) writes none. Net changes and not old→new pairs, because pairing
-- the rows of the transition tables is a join the planner runs as a nested loop (it has
-- no statistics on them): a retry of 50,000 packages took minutes.
--
-- No foreign key to minor_waves: checking it would lock the minor wave's row (FOR KEY
-- SHARE) in every transaction that records a build, and concurrent lockers of one row
-- make Postgres create a multixact each time. Nothing deletes minor waves.
CREATE TABLE result_changes (
    minor_wave_id  bigint NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(), -- the transaction's time, as updated_at
    status         text NOT NULL,
    resolution     text NOT NULL,
    packages       int NOT NULL  -- results that came into (status, resolution), less those that left
);
CREATE INDEX result_changes_minor_wave ON result_changes (minor_wave_id, at);

CREATE FUNCTION record_result_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_changes (minor_wave_id, status, resolution, packages)
    SELECT minor_wave_id, status, resolution, count(*) FROM inserted GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE FUNCTION record_result_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_changes (minor_wave_id, status, resolution, packages)
    SELECT minor_wave_id, status, resolution, sum(d)
    FROM (SELECT minor_wave_id, status, resolution, 1 AS d FROM new_rows
          UNION ALL
          SELECT minor_wave_id, status, resolution, -1 FROM old_rows) AS changed
    GROUP BY 1, 2, 3 HAVING sum(d) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER package_results_inserted AFTER INSERT ON package_results
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION record_result_inserts();
CREATE TRIGGER package_results_updated AFTER UPDATE ON package_results
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_result_updates();

-- Minor waves recorded before: what their results still tell, as the status site guessed
-- it until now (all pending when the minor wave started; each settled at its last update).
INSERT INTO result_changes (minor_wave_id, at, status, resolution, packages)
SELECT m.id, m.started_at, 'pending', '', count(*)
FROM minor_waves m JOIN package_results r ON r.minor_wave_id = m.id
GROUP BY m.id, m.started_at;
INSERT INTO result_changes (minor_wave_id, at, status, resolution, packages)
SELECT m.id, t.at, s.status, s.resolution, sum(s.packages)
FROM minor_waves m JOIN package_results r ON r.minor_wave_id = m.id
CROSS JOIN LATERAL (SELECT greatest(r.updated_at, m.started_at) AS at) t
CROSS JOIN LATERAL (VALUES ('pending', '', -1), (r.status, r.resolution, 1)) AS s(status, resolution, packages)
WHERE r.status <> 'pending'
GROUP BY m.id, t.at, s.status, s.resolution;
