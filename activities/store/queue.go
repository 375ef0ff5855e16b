package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Queue change states, as queue_changes records them.
const (
	QueueQueued       = "queued"
	QueueBatched      = "batched"
	QueueMerged       = "merged"
	QueueEjected      = "ejected"
	QueueWithdrawn    = "withdrawn"
	QueueHandedToWave = "handed-to-wave"
)

// QueueChange is one approved change in a merge queue.
type QueueChange struct {
	ID           int64
	Key          string
	Collection   string
	Branch       string
	Ref          string
	Commit       string
	Title        string
	Labels       []string
	SubmittedBy  string
	Lane         string
	LaneReason   string
	Rebuilds     int
	State        string
	Reason       string
	BatchID      int64
	Attempts     int
	Evidence     json.RawMessage
	SubmittedAt  time.Time
	BatchedAt    *time.Time
	BuiltAt      *time.Time
	MergedAt     *time.Time
	EjectedAt    *time.Time
	CollectionID int64
	// PullRepo and PullNumber name the pull request the change came from (PullNumber 0:
	// submitted by ref); PullURL is where a person reads it.
	PullRepo   string
	PullNumber int64
	PullURL    string
	// Candidate is the candidate commit of the latest batch the change was in: for a
	// merged change, the commit its branch was fast-forwarded to.
	Candidate string
	// Reported is the last outcome delivered to the change's author (see migration 0012);
	// ReportIssue the local issue that follows a change submitted by ref; ReportError and
	// ReportAttempts what the failed deliveries of the current outcome said.
	Reported       string
	ReportIssue    int64
	ReportError    string
	ReportAttempts int
}

const queueChangeColumns = `q.id, q.key, c.name, q.branch, q.ref, q.commit, q.title, q.labels, q.submitted_by, q.lane, q.lane_reason,
	q.rebuilds, q.state, q.reason, coalesce(q.batch_id, 0), q.attempts, q.evidence, q.submitted_at, q.batched_at, q.built_at,
	q.merged_at, q.ejected_at, q.collection_id, q.pull_repo, q.pull_number, q.pull_url, coalesce(b.candidate_commit, ''),
	q.reported, q.report_issue, q.report_error, q.report_attempts`

// queueChangeFrom is what queueChangeColumns read from.
const queueChangeFrom = `queue_changes q JOIN collections c ON c.id = q.collection_id LEFT JOIN queue_batches b ON b.id = q.batch_id`

// queueOutcome is a change's outcome as its author is told: pending while queued or
// batched, its state after that.
const queueOutcome = `CASE WHEN q.state IN ('queued', 'batched') THEN 'pending' ELSE q.state END`

func scanQueueChange(row pgx.Row) (QueueChange, error) {
	var q QueueChange
	err := row.Scan(&q.ID, &q.Key, &q.Collection, &q.Branch, &q.Ref, &q.Commit, &q.Title, &q.Labels, &q.SubmittedBy, &q.Lane,
		&q.LaneReason, &q.Rebuilds, &q.State, &q.Reason, &q.BatchID, &q.Attempts, &q.Evidence, &q.SubmittedAt, &q.BatchedAt,
		&q.BuiltAt, &q.MergedAt, &q.EjectedAt, &q.CollectionID, &q.PullRepo, &q.PullNumber, &q.PullURL, &q.Candidate,
		&q.Reported, &q.ReportIssue, &q.ReportError, &q.ReportAttempts)
	return q, err
}

// SubmitChange records an approved change as queued. Idempotent by Key: a retried
// submission returns the change recorded first.
func (s *Store) SubmitChange(ctx context.Context, q QueueChange) (QueueChange, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO queue_changes (key, collection_id, branch, ref, commit, title, labels, submitted_by, state, pull_repo, pull_number, pull_url)
		SELECT $1, c.id, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11 FROM collections c WHERE c.name = $2
		ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
		RETURNING id`, q.Key, q.Collection, q.Branch, q.Ref, q.Commit, q.Title, nonNil(q.Labels), q.SubmittedBy,
		q.PullRepo, q.PullNumber, q.PullURL).Scan(&id)
	if err != nil {
		return q, notFound(err, "submit "+q.Ref+" to the queue of collection "+q.Collection)
	}
	return s.QueueChange(ctx, id)
}

// QueueChange returns one change of a merge queue.
func (s *Store) QueueChange(ctx context.Context, id int64) (QueueChange, error) {
	q, err := scanQueueChange(s.pool.QueryRow(ctx, `SELECT `+queueChangeColumns+` FROM `+queueChangeFrom+` WHERE q.id = $1`, id))
	if err != nil {
		return q, notFound(err, fmt.Sprintf("queue change %d", id))
	}
	return q, nil
}

// QueueChanges lists the changes of a collection's queue for a branch ("" for every
// branch), newest first; states filters them (none: all).
func (s *Store) QueueChanges(ctx context.Context, collection, branch string, states ...string) ([]QueueChange, error) {
	return s.queueChanges(ctx, "list queue changes", `SELECT `+queueChangeColumns+` FROM `+queueChangeFrom+`
		WHERE c.name = $1 AND ($2 = '' OR q.branch = $2) AND (cardinality($3::text[]) = 0 OR q.state = ANY($3))
		ORDER BY q.id DESC`, collection, branch, nonNil(states))
}

// queueChanges runs a query of queueChangeColumns.
func (s *Store) queueChanges(ctx context.Context, what, query string, args ...any) ([]QueueChange, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (QueueChange, error) { return scanQueueChange(row) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// PullChanges lists the changes of a queue that came from pull requests of repo: those of
// the given numbers, in any state, and every one still queued or batched; oldest first.
func (s *Store) PullChanges(ctx context.Context, collection, branch, repo string, numbers []int64) ([]QueueChange, error) {
	return s.queueChanges(ctx, "pull request changes of "+repo, `SELECT `+queueChangeColumns+` FROM `+queueChangeFrom+`
		WHERE c.name = $1 AND q.branch = $2 AND q.pull_repo = $3 AND q.pull_number > 0
			AND (q.pull_number = ANY($4) OR q.state IN ('queued', 'batched'))
		ORDER BY q.id`, collection, branch, repo, nonNil(numbers))
}

// UnreportedChanges lists at most limit changes of a queue whose outcome (pending,
// merged, ejected, withdrawn, handed-to-wave) was not delivered yet, oldest first: those
// from pull requests of pullRepo ("" for none), and with refs those submitted by ref.
func (s *Store) UnreportedChanges(ctx context.Context, collection, branch, pullRepo string, refs bool, limit int) ([]QueueChange, error) {
	return s.queueChanges(ctx, "unreported queue changes", `SELECT `+queueChangeColumns+` FROM `+queueChangeFrom+`
		WHERE c.name = $1 AND q.branch = $2 AND q.reported <> `+queueOutcome+`
			AND (($3 <> '' AND q.pull_repo = $3 AND q.pull_number > 0) OR ($4 AND q.pull_number = 0))
		ORDER BY q.id LIMIT $5`, collection, branch, pullRepo, refs, limit)
}

// MarkReported records that outcome was delivered for change id.
func (s *Store) MarkReported(ctx context.Context, id int64, outcome string) error {
	_, err := s.pool.Exec(ctx, `UPDATE queue_changes SET reported = $2, report_error = '', report_attempts = 0 WHERE id = $1`, id, outcome)
	if err != nil {
		return fmt.Errorf("mark queue change %d reported: %w", id, err)
	}
	return nil
}

// ReportFailed records a failed delivery of outcome for change id. With giveUp (the
// tracker refused for good: the pull request is gone, the token may not comment) the
// outcome counts as delivered, so that it is not tried again and again.
func (s *Store) ReportFailed(ctx context.Context, id int64, outcome, msg string, giveUp bool) error {
	_, err := s.pool.Exec(ctx, `UPDATE queue_changes SET report_error = $3, report_attempts = report_attempts + 1,
			reported = CASE WHEN $4 THEN $2 ELSE reported END
		WHERE id = $1`, id, outcome, msg, giveUp)
	if err != nil {
		return fmt.Errorf("record failed report of queue change %d: %w", id, err)
	}
	return nil
}

// SetReportIssue records the local issue that follows change id.
func (s *Store) SetReportIssue(ctx context.Context, id, number int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE queue_changes SET report_issue = $2 WHERE id = $1`, id, number)
	if err != nil {
		return fmt.Errorf("record the issue of queue change %d: %w", id, err)
	}
	return nil
}

// SetLane records the lane policy chose for a change, with its reason; a change laned
// for the wave lane is handed to the next major wave at once (state handed-to-wave) with
// handOff as its reason.
func (s *Store) SetLane(ctx context.Context, id int64, lane, reason string, rebuilds int, handOff string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE queue_changes SET lane = $2, lane_reason = $3, rebuilds = $4, updated_at = now(),
			state = CASE WHEN $5 <> '' AND state = 'queued' THEN 'handed-to-wave' ELSE state END,
			reason = CASE WHEN $5 <> '' AND state = 'queued' THEN $5 ELSE reason END
		WHERE id = $1`, id, lane, reason, rebuilds, handOff)
	if err != nil {
		return fmt.Errorf("set lane of queue change %d: %w", id, err)
	}
	return nil
}

// WithdrawChange takes a change that is not being built out of its queue. A change
// already final is an error naming its state.
func (s *Store) WithdrawChange(ctx context.Context, id int64, reason string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE queue_changes SET state = 'withdrawn', reason = $2, updated_at = now()
		WHERE id = $1 AND state = 'queued'`, id, reason)
	if err != nil {
		return fmt.Errorf("withdraw queue change %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		q, err := s.QueueChange(ctx, id)
		if err != nil {
			return err
		}
		if q.State != QueueWithdrawn {
			return fmt.Errorf("withdraw queue change %d: it is %s, not queued", id, q.State)
		}
	}
	return nil
}

// QueueBatch is one candidate commit of a merge queue.
type QueueBatch struct {
	ID              int64
	Key             string
	Branch          string
	Lane            string
	Members         []int64
	BaseCommit      string
	CandidateCommit string
	MinorWaveID     int64
	State           string
	Reason          string
}

// StartBatch records a batch and marks its members batched (first batched_at kept,
// attempts counted), in one transaction. Idempotent by Key.
func (s *Store) StartBatch(ctx context.Context, collection string, b QueueBatch) (QueueBatch, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM queue_batches WHERE key = $1`, b.Key).Scan(&b.ID)
		if err == nil {
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO queue_batches (collection_id, branch, key, lane, members, base_commit, candidate_commit, state)
			SELECT c.id, $2, $3, $4, $5, $6, $7, 'building' FROM collections c WHERE c.name = $1 RETURNING id`,
			collection, b.Branch, b.Key, b.Lane, b.Members, b.BaseCommit, b.CandidateCommit).Scan(&b.ID); err != nil {
			return notFound(err, "collection "+collection)
		}
		_, err = tx.Exec(ctx, `
			UPDATE queue_changes SET state = 'batched', batch_id = $2, attempts = attempts + 1,
				batched_at = coalesce(batched_at, now()), reason = $3, updated_at = now()
			WHERE id = ANY($1)`, b.Members, b.ID, fmt.Sprintf("in batch %s", b.Key))
		return err
	})
	if err != nil {
		return b, fmt.Errorf("start batch %s: %w", b.Key, err)
	}
	return b, nil
}

// SetBatchBuild records the build round of a batch's candidate and how many packages it
// builds.
func (s *Store) SetBatchBuild(ctx context.Context, batchID, minorWaveID int64, packages int, state string) error {
	_, err := s.pool.Exec(ctx, `UPDATE queue_batches SET minor_wave_id = $2, packages = $3, state = $4 WHERE id = $1`,
		batchID, minorWaveID, packages, state)
	if err != nil {
		return fmt.Errorf("set build of batch %d: %w", batchID, err)
	}
	return nil
}

// Ejection is a change thrown out of its batch, with the evidence against it.
type Ejection struct {
	ID       int64
	Reason   string
	Evidence json.RawMessage
}

// BatchOutcome is how a batch ended: its members merged, ejected or back in the queue.
type BatchOutcome struct {
	BatchID  int64
	State    string // merged, failed, conflict or built
	Reason   string
	Merged   []int64
	Ejected  []Ejection
	Requeued []int64
	// Built are the changes of a wave-lane batch built green aside (the first stage of the
	// two-stage queue): queued again with their build time, to be merged as one unit.
	Built []int64
	// Flaky are the candidate's failures that passed on a rebuild of the same derivation,
	// recorded per package (flaky_failures) with the batch.
	Flaky []FlakyFailure
}

// FlakyFailure is one package that failed in a batch's candidate and passed when built
// again.
type FlakyFailure struct {
	System  string
	Package string
	LogTail string // the failing build's
}

// FinishBatch records how a batch ended and moves every member on, in one transaction:
// merged (built and merged now), ejected (with evidence), or queued again.
func (s *Store) FinishBatch(ctx context.Context, o BatchOutcome) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE queue_batches SET state = $2, reason = $3, finished_at = coalesce(finished_at, now()) WHERE id = $1`,
			o.BatchID, o.State, o.Reason); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE queue_changes SET state = 'merged', reason = $2, built_at = coalesce(built_at, now()),
				merged_at = coalesce(merged_at, now()), updated_at = now()
			WHERE id = ANY($1) AND state <> 'merged'`, o.Merged, o.Reason); err != nil {
			return err
		}
		for _, e := range o.Ejected {
			if _, err := tx.Exec(ctx, `
				UPDATE queue_changes SET state = 'ejected', reason = $2, evidence = $3, ejected_at = coalesce(ejected_at, now()), updated_at = now()
				WHERE id = $1 AND state <> 'ejected'`, e.ID, e.Reason, e.Evidence); err != nil {
				return err
			}
		}
		for _, f := range o.Flaky {
			if _, err := tx.Exec(ctx, `
				INSERT INTO flaky_failures (batch_id, system, package, log_tail) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, o.BatchID, f.System, f.Package, f.LogTail); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE queue_changes SET state = 'queued', reason = $2, built_at = now(), updated_at = now()
			WHERE id = ANY($1) AND state = 'batched'`, o.Built, "built aside, queued as one unit: "+o.Reason); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE queue_changes SET state = 'queued', reason = $2, updated_at = now()
			WHERE id = ANY($1) AND state = 'batched'`, o.Requeued, "back in the queue: "+o.Reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish batch %d: %w", o.BatchID, err)
	}
	return nil
}

// QueueProbe is one probe of a bisection, as recorded.
type QueueProbe struct {
	BatchID     int64    `json:"batch_id"`
	Round       int      `json:"round"`
	Kind        string   `json:"kind"`
	Prefix      int      `json:"prefix"`
	Commit      string   `json:"commit"`
	Packages    []string `json:"packages"`
	Failed      []string `json:"failed,omitempty"`
	MinorWaveID int64    `json:"minor_wave_id,omitempty"`
	Done        bool     `json:"done"`
}

// RecordProbe records a probe: started (Done false: its commit and build round) or
// finished (its failed packages). Idempotent.
func (s *Store) RecordProbe(ctx context.Context, p QueueProbe) error {
	var failed []string
	if p.Done {
		failed = nonNil(p.Failed)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO queue_probes (batch_id, round, kind, prefix, commit, packages, failed, minor_wave_id, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, 0), CASE WHEN $9 THEN now() END)
		ON CONFLICT (batch_id, round, kind, prefix) DO UPDATE SET
			commit = CASE WHEN EXCLUDED.commit <> '' THEN EXCLUDED.commit ELSE queue_probes.commit END,
			minor_wave_id = coalesce(EXCLUDED.minor_wave_id, queue_probes.minor_wave_id),
			failed = coalesce(EXCLUDED.failed, queue_probes.failed),
			finished_at = coalesce(queue_probes.finished_at, EXCLUDED.finished_at)`,
		p.BatchID, p.Round, p.Kind, p.Prefix, p.Commit, nonNil(p.Packages), failed, p.MinorWaveID, p.Done)
	if err != nil {
		return fmt.Errorf("record probe %s %d of batch %d: %w", p.Kind, p.Prefix, p.BatchID, err)
	}
	return nil
}

// QueueProbes lists the probes of a batch in order.
func (s *Store) QueueProbes(ctx context.Context, batchID int64) ([]QueueProbe, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT p.batch_id, p.round, p.kind, p.prefix, p.commit, p.packages, coalesce(p.failed, '{}'), coalesce(p.minor_wave_id, 0), p.finished_at IS NOT NULL
		FROM queue_probes p WHERE p.batch_id = $1 ORDER BY p.round, p.kind, p.prefix`, batchID)
	if err != nil {
		return nil, fmt.Errorf("probes of batch %d: %w", batchID, err)
	}
	var out []QueueProbe
	var p QueueProbe
	_, err = pgx.ForEachRow(rows, []any{&p.BatchID, &p.Round, &p.Kind, &p.Prefix, &p.Commit, &p.Packages, &p.Failed, &p.MinorWaveID, &p.Done}, func() error {
		p.Packages, p.Failed = append([]string(nil), p.Packages...), append([]string(nil), p.Failed...)
		out = append(out, p)
		return nil
	})
	return out, err
}

// QueueBatches lists the batches of a collection's queue for a branch, oldest first.
func (s *Store) QueueBatches(ctx context.Context, collection, branch string) ([]QueueBatch, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.id, b.key, b.branch, b.lane, b.members, b.base_commit, b.candidate_commit, coalesce(b.minor_wave_id, 0), b.state, b.reason
		FROM queue_batches b JOIN collections c ON c.id = b.collection_id
		WHERE c.name = $1 AND ($2 = '' OR b.branch = $2) ORDER BY b.id`, collection, branch)
	if err != nil {
		return nil, fmt.Errorf("queue batches: %w", err)
	}
	var out []QueueBatch
	var b QueueBatch
	_, err = pgx.ForEachRow(rows, []any{&b.ID, &b.Key, &b.Branch, &b.Lane, &b.Members, &b.BaseCommit, &b.CandidateCommit, &b.MinorWaveID, &b.State, &b.Reason}, func() error {
		b.Members = append([]int64(nil), b.Members...)
		out = append(out, b)
		return nil
	})
	return out, err
}

// LaneStats are the latencies of one lane, submitted to merged, in seconds.
type LaneStats struct {
	Lane     string  `json:"lane"`
	Merged   int     `json:"merged"`
	Ejected  int     `json:"ejected"`
	Waiting  int     `json:"waiting"`
	Handed   int     `json:"handed_to_wave"`
	P50      float64 `json:"p50_seconds"`
	P95      float64 `json:"p95_seconds"`
	P99      float64 `json:"p99_seconds"`
	Batches  int     `json:"batches,omitempty"`
	Probes   int     `json:"probes,omitempty"`
	Builds   int     `json:"builds,omitempty"`
	Rebuilds int     `json:"rebuilds,omitempty"`
}

// QueueStats are a queue's latencies per lane and what its builds cost.
type QueueStats struct {
	Lanes []LaneStats `json:"lanes"`
	// Builds counts package builds of the queue's candidates and probes; ProbeBuilds those
	// of probes alone; CandidateBuilds those of candidates.
	Builds          int `json:"builds"`
	CandidateBuilds int `json:"candidate_builds"`
	ProbeBuilds     int `json:"probe_builds"`
	// OwnRebuilds sums the rebuild sets of the merged changes: BuildsPerMerged is Builds
	// over it (1.0: every package built once per change that needed it).
	OwnRebuilds     int     `json:"own_rebuilds"`
	Merged          int     `json:"merged"`
	Ejected         int     `json:"ejected"`
	BuildsPerMerged float64 `json:"builds_per_merged"`
	// ProbeCost is probe builds over candidate builds.
	ProbeCost float64 `json:"probe_cost"`
	// CacheHits are the builds that Nix answered from the store or the cache without
	// building a derivation (builds.built = 0): a wave-lane unit's second stage is mostly
	// these. PerformedPerMerged is BuildsPerMerged without them.
	CacheHits          int     `json:"cache_hits"`
	PerformedPerMerged float64 `json:"performed_per_merged"`
	// Flaky lists the packages whose failures passed on a rebuild, most often first.
	Flaky []FlakyPackage `json:"flaky,omitempty"`
}

// FlakyPackage is how often a package failed at random in a queue's candidates.
type FlakyPackage struct {
	Package   string    `json:"package"`
	System    string    `json:"system"`
	Times     int       `json:"times"`
	LastSeen  time.Time `json:"last_seen"`
	LastBatch int64     `json:"last_batch"`
	LogTail   string    `json:"log_tail,omitempty"` // the last failing build's
}

// QueueStatsOf computes the statistics of a collection's queue for a branch ("" for
// every branch) from the changes, batches, probes and builds recorded.
func (s *Store) QueueStatsOf(ctx context.Context, collection, branch string) (QueueStats, error) {
	var out QueueStats
	rows, err := s.pool.Query(ctx, `
		SELECT q.lane,
			count(*) FILTER (WHERE q.state = 'merged')::int,
			count(*) FILTER (WHERE q.state = 'ejected')::int,
			count(*) FILTER (WHERE q.state IN ('queued', 'batched'))::int,
			count(*) FILTER (WHERE q.state = 'handed-to-wave')::int,
			coalesce(percentile_cont(0.50) WITHIN GROUP (ORDER BY extract(epoch FROM q.merged_at - q.submitted_at)) FILTER (WHERE q.state = 'merged'), 0),
			coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM q.merged_at - q.submitted_at)) FILTER (WHERE q.state = 'merged'), 0),
			coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM q.merged_at - q.submitted_at)) FILTER (WHERE q.state = 'merged'), 0),
			coalesce(sum(q.rebuilds) FILTER (WHERE q.state = 'merged'), 0)::int
		FROM queue_changes q JOIN collections c ON c.id = q.collection_id
		WHERE c.name = $1 AND ($2 = '' OR q.branch = $2) AND q.lane <> ''
		GROUP BY q.lane ORDER BY q.lane`, collection, branch)
	if err != nil {
		return out, fmt.Errorf("queue stats: %w", err)
	}
	var l LaneStats
	if _, err := pgx.ForEachRow(rows, []any{&l.Lane, &l.Merged, &l.Ejected, &l.Waiting, &l.Handed, &l.P50, &l.P95, &l.P99, &l.Rebuilds}, func() error {
		out.Lanes = append(out.Lanes, l)
		out.Merged += l.Merged
		out.Ejected += l.Ejected
		out.OwnRebuilds += l.Rebuilds
		return nil
	}); err != nil {
		return out, fmt.Errorf("queue stats: %w", err)
	}
	err = s.pool.QueryRow(ctx, `
		WITH queue AS (SELECT b.id, b.minor_wave_id FROM queue_batches b JOIN collections c ON c.id = b.collection_id
			WHERE c.name = $1 AND ($2 = '' OR b.branch = $2))
		SELECT
			(SELECT count(*) FROM builds WHERE minor_wave_id IN (SELECT minor_wave_id FROM queue))::int,
			(SELECT count(*) FROM builds WHERE minor_wave_id IN (SELECT p.minor_wave_id FROM queue_probes p WHERE p.batch_id IN (SELECT id FROM queue)))::int,
			(SELECT count(*) FROM builds WHERE built = 0 AND minor_wave_id IN (SELECT minor_wave_id FROM queue
				UNION ALL SELECT p.minor_wave_id FROM queue_probes p WHERE p.batch_id IN (SELECT id FROM queue)))::int`,
		collection, branch).Scan(&out.CandidateBuilds, &out.ProbeBuilds, &out.CacheHits)
	if err != nil {
		return out, fmt.Errorf("queue stats: %w", err)
	}
	rows, err = s.pool.Query(ctx, `
		SELECT DISTINCT ON (f.package, f.system) f.package, f.system,
			count(*) OVER (PARTITION BY f.package, f.system)::int, f.seen_at, f.batch_id, f.log_tail
		FROM flaky_failures f JOIN queue_batches b ON b.id = f.batch_id JOIN collections c ON c.id = b.collection_id
		WHERE c.name = $1 AND ($2 = '' OR b.branch = $2)
		ORDER BY f.package, f.system, f.seen_at DESC, f.batch_id DESC`, collection, branch)
	if err != nil {
		return out, fmt.Errorf("queue stats: flaky packages: %w", err)
	}
	if out.Flaky, err = pgx.CollectRows(rows, pgx.RowToStructByPos[FlakyPackage]); err != nil {
		return out, fmt.Errorf("queue stats: flaky packages: %w", err)
	}
	slices.SortStableFunc(out.Flaky, func(a, b FlakyPackage) int { return cmp.Compare(b.Times, a.Times) })
	out.Builds = out.CandidateBuilds + out.ProbeBuilds
	if out.OwnRebuilds > 0 {
		out.BuildsPerMerged = float64(out.Builds) / float64(out.OwnRebuilds)
		out.PerformedPerMerged = float64(out.Builds-out.CacheHits) / float64(out.OwnRebuilds)
	}
	if out.CandidateBuilds > 0 {
		out.ProbeCost = float64(out.ProbeBuilds) / float64(out.CandidateBuilds)
	}
	return out, nil
}
