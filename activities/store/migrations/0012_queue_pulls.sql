-- Pull requests in the merge queue, and the results reported back to their authors.
--
-- A change that came from a pull request names it (pull_repo, pull_number): the intake finds
-- what it submitted by them, and its results go back there as a comment and a commit status.
-- reported is an outbox over the change's own state: the last outcome delivered (pending
-- while queued or batched, then merged, ejected, withdrawn or handed-to-wave). A change
-- whose state moved past it is reported again; the report and the state never have to be
-- written together, and a failed delivery is retried by the next report run.
ALTER TABLE queue_changes
    ADD COLUMN pull_repo       text NOT NULL DEFAULT '',   -- "owner/name"; '' for a change submitted by ref
    ADD COLUMN pull_number     bigint NOT NULL DEFAULT 0,
    ADD COLUMN pull_url        text NOT NULL DEFAULT '',
    ADD COLUMN reported        text NOT NULL DEFAULT '',   -- last outcome delivered
    ADD COLUMN report_issue    bigint NOT NULL DEFAULT 0,  -- the local issue following a change submitted by ref (crest dev)
    ADD COLUMN report_error    text NOT NULL DEFAULT '',   -- why the last delivery failed ('' when it did not)
    ADD COLUMN report_attempts int NOT NULL DEFAULT 0;     -- failed deliveries of the current outcome

-- Changes recorded before reports existed have nothing to tell.
UPDATE queue_changes SET reported = CASE WHEN state IN ('queued', 'batched') THEN 'pending' ELSE state END;

CREATE INDEX queue_changes_pull ON queue_changes (pull_repo, pull_number) WHERE pull_number > 0;
