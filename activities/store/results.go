package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// Package statuses within a minor wave.
const (
	StatusPending          = string(policy.StatusPending)
	StatusPassed           = string(policy.StatusPassed)
	StatusFailed           = string(policy.StatusFailed)     // the build failed
	StatusTestFailed       = string(policy.StatusTestFailed) // built, but a passthru test failed
	StatusDependencyFailed = string(policy.StatusDependencyFailed)
)

// RoundRow places one package of a build round.
type RoundRow struct {
	Package string
	Drv     string
	Layer   int
	Shard   int
	// Protected: in the build closure of a protected root; never settled implicitly.
	Protected bool
}

// LayerLayout is how many shards and packages one dependency layer of a round has.
type LayerLayout struct {
	Layer    int `json:"layer"`
	Shards   int `json:"shards"`
	Packages int `json:"packages"`
}

// PutRound lays out build round number round of a minor wave: every listed package becomes
// pending in its layer and shard (a retried package keeps its history: attempts, resolution
// cleared). It is idempotent: a round already written is left as it is. One transaction.
func (s *Store) PutRound(ctx context.Context, minorWaveID int64, system string, round int, rows []RoundRow) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM package_results WHERE minor_wave_id = $1 AND system = $2 AND round = $3)`,
			minorWaveID, system, round).Scan(&exists); err != nil {
			return err
		}
		if exists || len(rows) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE round_rows (package text, drv text, layer int, shard int, protected boolean) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"round_rows"}, []string{"package", "drv", "layer", "shard", "protected"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				return []any{rows[i].Package, rows[i].Drv, int32(rows[i].Layer), int32(rows[i].Shard), rows[i].Protected}, nil
			})); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO package_results (minor_wave_id, system, package, drv, round, layer, shard, status, protected)
			SELECT $1, $2, package, drv, $3, layer, shard, 'pending', protected FROM round_rows
			ON CONFLICT (minor_wave_id, system, package) DO UPDATE SET
				drv = EXCLUDED.drv, round = EXCLUDED.round, layer = EXCLUDED.layer, shard = EXCLUDED.shard, protected = EXCLUDED.protected,
				status = 'pending', resolution = '', reason = '', blocked_by = '{}', updated_at = now()`,
			minorWaveID, system, round)
		return err
	})
	if err != nil {
		return err
	}
	return s.analyze(ctx, "package_results")
}

// RoundLayout returns the layers of a round in order.
func (s *Store) RoundLayout(ctx context.Context, minorWaveID int64, system string, round int) ([]LayerLayout, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT layer, max(shard) + 1, count(*) FROM package_results
		WHERE minor_wave_id = $1 AND system = $2 AND round = $3 GROUP BY layer ORDER BY layer`, minorWaveID, system, round)
	if err != nil {
		return nil, fmt.Errorf("round layout: %w", err)
	}
	var out []LayerLayout
	var l LayerLayout
	_, err = pgx.ForEachRow(rows, []any{&l.Layer, &l.Shards, &l.Packages}, func() error {
		out = append(out, l)
		return nil
	})
	return out, err
}

// ShardTask is one package a shard builds.
type ShardTask struct {
	Package string
	Drv     string
}

// TakeShard returns the buildable packages of one shard. Packages whose dependencies
// failed (in this major wave: this minor wave or an earlier one) become dependency-failed
// with the root causes that block them — policy.Gate decides, and its reason is recorded —
// in the same transaction, and are not returned. Packages already finished (a retried
// activity) are not returned either.
func (s *Store) TakeShard(ctx context.Context, waveID, minorWaveID, evaluationID int64, system string, round, layer, shard int) ([]ShardTask, int, error) {
	var tasks []ShardTask
	blockedCount := 0
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT pr.package, pr.drv, coalesce(array_agg(d.key) FILTER (WHERE d.key IS NOT NULL), '{}')
			FROM package_results pr
			LEFT JOIN packages p ON p.evaluation_id = $6 AND p.key = pr.package
			LEFT JOIN edges e ON e.evaluation_id = $6 AND e.pkg = p.idx
			LEFT JOIN packages d ON d.evaluation_id = $6 AND d.idx = e.dep
			WHERE pr.minor_wave_id = $1 AND pr.system = $2 AND pr.round = $3 AND pr.layer = $4 AND pr.shard = $5
			  AND pr.status = 'pending'
			GROUP BY pr.package, pr.drv ORDER BY pr.package`,
			minorWaveID, system, round, layer, shard, evaluationID)
		if err != nil {
			return err
		}
		all, err := collectPending(rows)
		if err != nil {
			return err
		}
		var blocked []string
		tasks, blocked, err = gatePending(ctx, tx, waveID, minorWaveID, system, all)
		blockedCount = len(blocked)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("take shard %d/%d of round %d: %w", layer, shard, round, err)
	}
	return tasks, blockedCount, nil
}

// pendingTask is a pending package with its direct dependencies (all of them, in the
// round's evaluation).
type pendingTask struct {
	task ShardTask
	deps []string
}

// collectPending reads rows of (package, drv, deps).
func collectPending(rows pgx.Rows) ([]pendingTask, error) {
	var all []pendingTask
	var p pendingTask
	_, err := pgx.ForEachRow(rows, []any{&p.task.Package, &p.task.Drv, &p.deps}, func() error {
		all = append(all, pendingTask{p.task, slices.Clone(p.deps)})
		return nil
	})
	return all, err
}

// gatePending applies policy.Gate to pending packages whose dependencies are all final:
// a package with a failed dependency (in this major wave: this minor wave or an earlier
// one) becomes dependency-failed with its root causes and the gate's reason (and settled
// at once if policy.Follow says its root causes were), and is returned in blocked; the
// others are returned as tasks to build.
func gatePending(ctx context.Context, tx pgx.Tx, waveID, minorWaveID int64, system string, all []pendingTask) (tasks []ShardTask, blocked []string, err error) {
	// Failures among those dependencies anywhere in this major wave, latest minor wave first.
	var depKeys []string
	for _, p := range all {
		depKeys = append(depKeys, p.deps...)
	}
	slices.Sort(depKeys)
	depKeys = slices.Compact(depKeys)
	failed := map[string]policy.DepState{} // dependencies that did not build
	// Most dependencies never failed: find the few with a failure on record first (probes
	// of the (package, status) index that fetch no rows), then read only their latest
	// result. This was most of Postgres's time in a 100,000-package wave.
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT r.package FROM package_results r
		WHERE r.package = ANY($3) AND r.status IN ('failed', 'dependency-failed') AND r.system = $2
		  AND r.minor_wave_id IN (SELECT id FROM minor_waves WHERE wave_id = $1)`, waveID, system, depKeys)
	if err != nil {
		return nil, nil, err
	}
	suspects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	if len(suspects) > 0 {
		rows, err = tx.Query(ctx, `
		SELECT DISTINCT ON (r.package) r.package, r.status, r.blocked_by
		FROM package_results r JOIN minor_waves m ON m.id = r.minor_wave_id
		WHERE m.wave_id = $1 AND r.system = $2 AND r.package = ANY($3)
		ORDER BY r.package, m.number DESC`, waveID, system, suspects)
		if err != nil {
			return nil, nil, err
		}
		var dep, status string
		var blockedBy []string
		if _, err := pgx.ForEachRow(rows, []any{&dep, &status, &blockedBy}, func() error {
			if status == StatusFailed || status == StatusDependencyFailed {
				failed[dep] = policy.DepState{Key: dep, Status: policy.Status(status), BlockedBy: slices.Clone(blockedBy)}
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
	}
	var roots, reasons []string // per blocked package: its root causes (comma-joined), why
	for _, p := range all {
		// Dependencies without a failure built (earlier layers are done), so only the
		// failed ones are the gate's business.
		var deps []policy.DepState
		for _, d := range p.deps {
			if f, ok := failed[d]; ok {
				deps = append(deps, f)
			}
		}
		dec, err := policy.Gate(p.task.Package, deps)
		if err != nil {
			return nil, nil, err
		}
		if dec.Action != policy.ActionDependencyFailed {
			tasks = append(tasks, p.task)
			continue
		}
		blocked = append(blocked, p.task.Package)
		roots = append(roots, strings.Join(dec.BlockedBy, ","))
		reasons = append(reasons, dec.Reason)
	}
	// One statement for all of them: a failure high in the graph blocks thousands. Their
	// rows are locked in key order first, as every writer of many results does, so that
	// two failures blocking the same packages queue rather than deadlock.
	if len(blocked) > 0 {
		if _, err := tx.Exec(ctx, `
		SELECT 1 FROM package_results WHERE minor_wave_id = $1 AND system = $2 AND package = ANY($3)
		ORDER BY package FOR UPDATE`, minorWaveID, system, blocked); err != nil {
			return nil, nil, err
		}
		if _, err := tx.Exec(ctx, `
		UPDATE package_results r SET status = 'dependency-failed', blocked_by = string_to_array(b.roots, ','), reason = b.reason, updated_at = now()
		FROM unnest($3::text[], $4::text[], $5::text[]) AS b(package, roots, reason)
		WHERE r.minor_wave_id = $1 AND r.system = $2 AND r.package = b.package`,
			minorWaveID, system, blocked, roots, reasons); err != nil {
			return nil, nil, err
		}
	}
	// A root cause settled already (in an earlier minor wave, or before this package was
	// reached) settles its new dependents at once, as policy.Follow says.
	if _, err := follow(ctx, tx, minorWaveID, system, blocked); err != nil {
		return nil, nil, err
	}
	return tasks, blocked, nil
}

// BuildRecord is the outcome of building (and testing) one package.
type BuildRecord struct {
	Key         string // idempotency key from the workflow
	MinorWaveID int64  // 0: a build outside minor waves (a security patch's)
	System      string
	Package     string
	Drv         string
	Status      string // passed, failed, test-failed
	ExitCode    int
	LogTail     string
	Outputs     []string
	// StartedAt is when this attempt began building, on the recording process's clock
	// (time.Now, with its monotonic reading): the build's duration is measured from it.
	// Zero keeps the start recorded already (when the build row was inserted).
	StartedAt time.Time
	// Builder names the worker that built (host:pid); Built is how many derivations Nix
	// built for it, 0 when the binary cache had everything. Without a Builder, Built is not
	// recorded (NULL: not said).
	Builder string
	Built   int
}

// BuildStatus returns the recorded outcome for an idempotency key, if it finished.
func (s *Store) BuildStatus(ctx context.Context, key string) (BuildRecord, bool, error) {
	r := BuildRecord{Key: key}
	var exit *int32
	err := s.pool.QueryRow(ctx, `SELECT drv, system, status, exit_code, log_tail, coalesce(outputs, '{}') FROM builds WHERE key = $1`, key).
		Scan(&r.Drv, &r.System, &r.Status, &exit, &r.LogTail, &r.Outputs)
	if err == pgx.ErrNoRows {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("build %s: %w", key, err)
	}
	if exit != nil {
		r.ExitCode = int(*exit)
	}
	return r, r.Status != "running", nil
}

// BuildStarted records that a build began (no-op when it already did).
func (s *Store) BuildStarted(ctx context.Context, r BuildRecord) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO builds (key, minor_wave_id, package, drv, system, status) VALUES ($1, nullif($2::bigint, 0), $3, $4, $5, 'running')
		ON CONFLICT (key) DO NOTHING`, r.Key, r.MinorWaveID, r.Package, r.Drv, r.System)
	if err != nil {
		return fmt.Errorf("record build start %s: %w", r.Key, err)
	}
	return nil
}

// StartBuild begins building a package of an evaluation under an idempotency key, in one
// statement (one round trip, one commit): it returns the package (key, drv, tests) and, when
// a build under key finished already, its outcome (done true: report it, build nothing);
// otherwise it records the build as running, as BuildStarted does (a running row left by a
// killed attempt stays, and the new attempt builds again). It is BuildStatus, PackageAt and
// BuildStarted together, for the path every package of a wave takes.
func (s *Store) StartBuild(ctx context.Context, evaluationID int64, r BuildRecord) (graph.Package, BuildRecord, bool, error) {
	p := graph.Package{Key: r.Package}
	rec := BuildRecord{Key: r.Key}
	var recDrv, recSystem, recStatus, recLog *string
	var exit *int32
	// The main SELECT sees the builds table as it was before the statement's INSERT: a row
	// there is an earlier attempt's.
	err := s.pool.QueryRow(ctx, `
		WITH p AS (
			SELECT drv, tests FROM packages WHERE evaluation_id = $1 AND key = $2
		), started AS (
			INSERT INTO builds (key, minor_wave_id, package, drv, system, status)
			SELECT $3, nullif($4::bigint, 0), $2, p.drv, $5, 'running' FROM p
			ON CONFLICT (key) DO NOTHING
		)
		SELECT p.drv, p.tests, b.drv, b.system, b.status, b.exit_code, b.log_tail, coalesce(b.outputs, '{}')
		FROM p LEFT JOIN builds b ON b.key = $3`,
		evaluationID, r.Package, r.Key, r.MinorWaveID, r.System).
		Scan(&p.Drv, &p.Tests, &recDrv, &recSystem, &recStatus, &exit, &recLog, &rec.Outputs)
	if err != nil {
		return p, rec, false, notFound(err, fmt.Sprintf("package %s in evaluation %d", r.Package, evaluationID))
	}
	if recStatus == nil || *recStatus == "running" {
		return p, rec, false, nil
	}
	rec.Drv, rec.System, rec.Status, rec.LogTail = *recDrv, *recSystem, *recStatus, *recLog
	if exit != nil {
		rec.ExitCode = int(*exit)
	}
	return p, rec, true, nil
}

// RecordBuild stores a finished build and the package's new status together, once per key,
// in one transaction. When the package is in a round's frontier, its dependents there wait
// for one dependency less, and those it leaves blocked become dependency-failed (with
// everything they block), in the same transaction: the frontier never lags the results.
//
// The build's start is recorded as the database's now() less the time since r.StartedAt,
// so that finished_at - started_at is this attempt's build time, measured on one clock (a
// worker's clock may be off Postgres's) and not from the running row a killed earlier
// attempt left (the cost model prices packages with it: LastBuildSeconds).
func (s *Store) RecordBuild(ctx context.Context, r BuildRecord) error {
	var elapsed *float64 // seconds since the build started; nil: keep the recorded start
	if !r.StartedAt.IsZero() {
		e := max(time.Since(r.StartedAt).Seconds(), 0)
		elapsed = &e
	}
	err := s.inTxRetrying(ctx, func(tx pgx.Tx) error {
		var inFrontier bool
		err := tx.QueryRow(ctx, `
		WITH build AS (
			INSERT INTO builds (key, minor_wave_id, package, drv, system, status, outputs, exit_code, log_tail, started_at, finished_at, builder, built)
			VALUES ($6, nullif($1::bigint, 0), $3, $7, $2, $4, $8, $9, $5, now() - make_interval(secs => coalesce($10::float8, 0)), now(), $11, CASE WHEN $11 = '' THEN NULL ELSE $12::int END)
			ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, outputs = EXCLUDED.outputs,
				exit_code = EXCLUDED.exit_code, log_tail = EXCLUDED.log_tail, finished_at = EXCLUDED.finished_at,
				builder = EXCLUDED.builder, built = EXCLUDED.built,
				started_at = CASE WHEN $10::float8 IS NULL THEN builds.started_at ELSE EXCLUDED.started_at END
			WHERE builds.status = 'running'
		)
		UPDATE package_results SET status = $4, log_tail = $5, attempts = attempts + 1, updated_at = now(), last_error = '',
			resolution = CASE WHEN $4 <> 'passed' THEN ''
			                  WHEN attempts > 0 THEN 'fixed' ELSE 'passed' END,
			reason = CASE WHEN $4 = 'passed' AND attempts > 0 THEN 'rebuilt green after a retry' ELSE '' END
		WHERE minor_wave_id = $1 AND system = $2 AND package = $3 AND status = 'pending'
		RETURNING EXISTS (SELECT 1 FROM frontier f WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.package = $3)`,
			r.MinorWaveID, r.System, r.Package, r.Status, r.LogTail, r.Key, r.Drv, r.Outputs, r.ExitCode, elapsed, r.Builder, r.Built).Scan(&inFrontier)
		if err == pgx.ErrNoRows || (err == nil && !inFrontier) {
			return nil // recorded already (a retried attempt), or a layered round
		}
		if err != nil {
			return err
		}
		return recordFrontier(ctx, tx, r.MinorWaveID, r.System, r.Package)
	})
	if err != nil {
		return fmt.Errorf("record build %s: %w", r.Key, err)
	}
	return nil
}

// RecordBuildTrouble notes why a pending package's build is being retried (infrastructure,
// not a build failure), for `crest wave status`; a recorded build clears it.
func (s *Store) RecordBuildTrouble(ctx context.Context, minorWaveID int64, system, pkg, trouble string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE package_results SET last_error = $4, updated_at = now()
		WHERE minor_wave_id = $1 AND system = $2 AND package = $3 AND status = 'pending'`, minorWaveID, system, pkg, trouble)
	if err != nil {
		return fmt.Errorf("record trouble of %s: %w", pkg, err)
	}
	return nil
}

// DuplicateBuilds lists derivations a major wave built more than once (a violation of "every
// package is built at most once per major wave"); empty when all is well.
func (s *Store) DuplicateBuilds(ctx context.Context, waveID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.package || ' ' || b.drv || ' x' || count(*) FROM builds b JOIN minor_waves m ON m.id = b.minor_wave_id
		WHERE m.wave_id = $1 AND b.status <> 'running'
		GROUP BY b.package, b.drv HAVING count(*) > 1 ORDER BY 1`, waveID)
	if err != nil {
		return nil, fmt.Errorf("duplicate builds: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// FinishedBuilds counts the builds recorded as finished.
func (s *Store) FinishedBuilds(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM builds WHERE status <> 'running'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count builds: %w", err)
	}
	return n, nil
}

// LastBuildSeconds returns, for the packages named (keys) that have one, how long the last
// completed build of each on system took, in seconds: the newest passed or test-failed
// build, whichever wave or patch built it. A test-failed build counts: its package built
// in full (dependents build against it) and its tests ran to the end (--keep-going), so it
// took what a green build takes. A failed build does not: it may have stopped a minute in.
// One probe of the builds_measured index per package.
func (s *Store) LastBuildSeconds(ctx context.Context, system string, packages []string) (map[string]float64, error) {
	packages = slices.Compact(slices.Sorted(slices.Values(packages)))
	out := make(map[string]float64)
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		// A hundred thousand index probes cost more than jit_above_cost, and compiling
		// them took longer than running them.
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
		SELECT p.package, greatest(extract(epoch FROM b.finished_at - b.started_at), 0)::float8
		FROM unnest($2::text[]) AS p(package)
		CROSS JOIN LATERAL (
			SELECT started_at, finished_at FROM builds
			WHERE system = $1 AND package = p.package AND status IN ('passed', 'test-failed') AND finished_at IS NOT NULL
			ORDER BY finished_at DESC LIMIT 1) b`, system, packages)
		if err != nil {
			return err
		}
		var pkg string
		var secs float64
		_, err = pgx.ForEachRow(rows, []any{&pkg, &secs}, func() error {
			out[pkg] = secs
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("last build durations on %s: %w", system, err)
	}
	return out, nil
}

// BuildSpan is when one package's finished build of a minor wave ran.
type BuildSpan struct {
	Started, Finished time.Time
}

// BuildSpans returns when each package of a minor wave was built (its last finished build),
// by package.
func (s *Store) BuildSpans(ctx context.Context, minorWaveID int64) (map[string]BuildSpan, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (package) package, started_at, finished_at FROM builds
		WHERE minor_wave_id = $1 AND finished_at IS NOT NULL ORDER BY package, finished_at DESC`, minorWaveID)
	if err != nil {
		return nil, fmt.Errorf("build spans: %w", err)
	}
	out := map[string]BuildSpan{}
	var pkg string
	var sp BuildSpan
	_, err = pgx.ForEachRow(rows, []any{&pkg, &sp.Started, &sp.Finished}, func() error {
		out[pkg] = sp
		return nil
	})
	return out, err
}
