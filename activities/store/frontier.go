package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// FrontierRow is one package of a dependency-driven round: its dependencies and dependents
// inside the round and its priority (bottom level: remaining critical path in seconds).
type FrontierRow struct {
	Package    string
	Deps       []string
	Dependents []string
	Priority   float64
}

// PutFrontier writes the frontier of round number round of a minor wave: every package
// waits for its dependencies inside the round. Idempotent: a round written already is left
// as it is. Call it after PutRound with the same packages.
func (s *Store) PutFrontier(ctx context.Context, minorWaveID int64, system string, round int, rows []FrontierRow) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM frontier WHERE minor_wave_id = $1 AND system = $2 AND round = $3)`,
			minorWaveID, system, round).Scan(&exists); err != nil {
			return err
		}
		if exists || len(rows) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE frontier_rows (package text, deps text[], dependents text[], priority double precision) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"frontier_rows"}, []string{"package", "deps", "dependents", "priority"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				r := rows[i]
				return []any{r.Package, nonNil(r.Deps), nonNil(r.Dependents), r.Priority}, nil
			})); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO frontier (minor_wave_id, system, package, round, remaining, priority, deps, dependents)
			SELECT $1, $2, package, $3, cardinality(deps), priority, deps, dependents FROM frontier_rows
			ON CONFLICT (minor_wave_id, system, package) DO UPDATE SET
				round = EXCLUDED.round, remaining = EXCLUDED.remaining, priority = EXCLUDED.priority,
				deps = EXCLUDED.deps, dependents = EXCLUDED.dependents, taken = ''`,
			minorWaveID, system, round)
		return err
	})
	if err != nil {
		return fmt.Errorf("put frontier of round %d: %w", round, err)
	}
	return s.analyze(ctx, "frontier")
}

// analyze refreshes the planner's statistics of a table after a round was written in bulk.
// Without them the planner takes a freshly filled frontier for empty and joins it in nested
// loops: at 20,000 packages one record took two minutes instead of milliseconds.
func (s *Store) analyze(ctx context.Context, table string) error {
	if _, err := s.pool.Exec(ctx, "ANALYZE "+pgx.Identifier{table}.Sanitize()); err != nil {
		return fmt.Errorf("analyze %s: %w", table, err)
	}
	return nil
}

// FrontierTake asks for up to Max ready packages of a round. Token names the take: a take
// repeated with the same token (a retried activity) returns what the first one took.
// Reset first gives back what other dispatchers (tokens not starting with Owner) took
// and never finished: a dispatcher started afresh after its predecessor stopped.
type FrontierTake struct {
	WaveID, MinorWaveID, EvaluationID int64
	System                            string
	Round                             int
	Max                               int
	Token                             string
	Owner                             string
	Reset                             bool
	// Slotted marks the take of build slots (BuildSlot activities of one process taking
	// together, Tokens; Token alone when empty): a slot's token is its own for all its
	// takes, so the take returns the package the slot took and has not recorded yet (a
	// retried attempt builds it again), and finds nothing once the dispatcher stopped the
	// slots' Generation (StopSlots). Max is one per token.
	Slotted    bool
	Generation int
	// Tokens are the build slots taking together (a slotted take): one package each.
	Tokens []string
	// CountBuilding makes SlotCounts count the packages being built
	// (FrontierTaken.Building); otherwise it only says whether any wait (Waiting 0 or 1).
	CountBuilding bool
}

// FrontierTaken is what a take handed out.
type FrontierTaken struct {
	Tasks []ShardTask
	// Blocked counts the packages the take found ready but marked dependency-failed instead
	// (a failed dependency outside the round, in an earlier minor wave), with everything
	// they blocked in turn.
	Blocked int
	// Waiting counts the round's pending packages nobody has taken yet.
	Waiting int
	// Tokens says, for a slotted take, which token each of Tasks went to.
	Tokens []string
	// Building counts the round's pending packages taken (being built); with Waiting, only
	// for a take that got nothing (a slotted one: only with CountBuilding, and Waiting is
	// then 1 when any package waits).
	Building int
	// Stopped: the slot's generation was stopped; the take took nothing.
	Stopped bool
}

// TakeReady takes up to Max ready packages of a round (every dependency inside the round
// final, still pending, not taken), highest priority first, marks them taken by Token and
// returns them. A ready package whose dependencies failed becomes dependency-failed instead
// (policy.Gate decides, as in TakeShard), and so do its dependents in the round, in the
// same transaction. One transaction.
func (s *Store) TakeReady(ctx context.Context, in FrontierTake) (FrontierTaken, error) {
	var out FrontierTaken
	inTx := s.InTx
	if in.Slotted {
		inTx = s.inTxRetrying // slots take at once, and may lock each other's rows
		if len(in.Tokens) == 0 {
			in.Tokens = []string{in.Token}
		}
		in.Max = len(in.Tokens)
		m, _ := s.takes.LoadOrStore(fmt.Sprintf("%d/%s", in.MinorWaveID, in.System), new(sync.Mutex))
		m.(*sync.Mutex).Lock()
		defer m.(*sync.Mutex).Unlock()
	}
	err := inTx(ctx, func(tx pgx.Tx) error {
		out = FrontierTaken{}
		if err := lockFrontier(ctx, tx, in.MinorWaveID, in.System); err != nil {
			return err
		}
		if in.Reset {
			if err := giveBackTakes(ctx, tx, in.MinorWaveID, in.System, in.Owner); err != nil {
				return err
			}
		}
		if in.Slotted {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM slot_stops WHERE owner = $1 AND generation = $2)`,
				in.Owner, in.Generation).Scan(&out.Stopped); err != nil || out.Stopped {
				return err
			}
		}
		if in.Slotted {
			return takeForSlots(ctx, tx, in, &out)
		}
		again, err := tx.Query(ctx, `
			SELECT r.package, r.drv FROM frontier f JOIN package_results r
			  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.taken = $3
			ORDER BY f.priority DESC, f.package`, in.MinorWaveID, in.System, in.Token)
		if err != nil {
			return err
		}
		var t ShardTask
		if _, err := pgx.ForEachRow(again, []any{&t.Package, &t.Drv}, func() error {
			out.Tasks = append(out.Tasks, t)
			return nil
		}); err != nil {
			return err
		}
		for len(out.Tasks) == 0 {
			tasks, more, err := takeReadyRows(ctx, tx, in, in.Max, &out)
			if err != nil {
				return err
			}
			if !more {
				break
			}
			names := make([]string, len(tasks))
			for i, t := range tasks {
				names[i] = t.Package
			}
			if _, err := tx.Exec(ctx, `UPDATE frontier SET taken = $3 WHERE minor_wave_id = $1 AND system = $2 AND package = ANY($4)`,
				in.MinorWaveID, in.System, in.Token, names); err != nil {
				return err
			}
			out.Tasks = tasks
		}
		if len(out.Tasks) > 0 {
			return nil // Waiting matters only to a dispatcher that got nothing; counting costs a scan
		}
		out.Waiting, out.Building, err = roundPending(ctx, tx, in.MinorWaveID, in.System, in.Round)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("take ready packages of round %d: %w", in.Round, err)
	}
	return out, nil
}

// SlotCounts tells a build slot whose take got nothing, outside the frontier's lock, only
// what it needs: whether anything is left to take (Waiting 1 or 0: at once, while much
// is), and, with CountBuilding, how many packages are being built.
func (s *Store) SlotCounts(ctx context.Context, in FrontierTake) (FrontierTaken, error) {
	var out FrontierTaken
	err := s.pool.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM frontier f JOIN package_results r
			  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.round = $3 AND f.taken = '' AND r.status = 'pending')::int,
			CASE WHEN $4 THEN (SELECT count(*) FROM frontier f JOIN package_results r
			  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.round = $3 AND f.taken <> '' AND r.status = 'pending')::int ELSE 0 END`,
		in.MinorWaveID, in.System, in.Round, in.CountBuilding).Scan(&out.Waiting, &out.Building)
	if err != nil {
		return out, fmt.Errorf("take ready packages of round %d: %w", in.Round, err)
	}
	return out, nil
}

// takenBlocked marks a frontier row whose package became dependency-failed: nobody takes
// it, and it leaves the ready index (remaining = 0 AND taken = ”), which every take reads
// in priority order. Left there, the blocked packages of a round with many failures piled
// up at the head of that order, and each take of one package stepped over thousands.
const takenBlocked = "blocked"

// leaveReady marks the frontier rows of pkgs, just made dependency-failed, takenBlocked.
func leaveReady(ctx context.Context, tx pgx.Tx, minorWaveID int64, system string, pkgs []string) error {
	if len(pkgs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE frontier SET taken = $3 WHERE minor_wave_id = $1 AND system = $2 AND package = ANY($4) AND taken = ''`,
		minorWaveID, system, takenBlocked, pkgs)
	return err
}

// ReadyCount counts, up to most, the packages of a round ready to be taken now, without
// the frontier's lock, from the ready index alone (as SlotPrecheck): how many idle build
// slots a record should wake.
func (s *Store) ReadyCount(ctx context.Context, minorWaveID int64, system string, round, most int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM (SELECT f.package FROM frontier f
		WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.round = $3 AND f.remaining = 0 AND f.taken = ''
		ORDER BY f.priority DESC, f.package LIMIT $4) ready`, minorWaveID, system, round, most).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count ready packages of round %d: %w", round, err)
	}
	return n, nil
}

// lockFrontier serializes the transactions that change the frontier of a minor wave's
// packages on one system (takes, and records that count dependents down) for the rest of
// tx. Settlements lock the dependents they count down level by level, a failure's cascade
// thousands of them; at once, in different orders, they deadlocked and queued behind each
// other (at 100,000 packages with a fifth failing: 71 deadlocks and 6–30 builds/s; one at
// a time, 50–77 builds/s). Takes are batched per process (takeForSlots) so that the lock
// is taken once for many slots.
func lockFrontier(ctx context.Context, tx pgx.Tx, minorWaveID int64, system string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, fmt.Sprintf("frontier/%d/%s", minorWaveID, system))
	return err
}

// takeReadyRows takes up to max ready packages of a round, highest priority first, and
// gates them: those whose dependencies failed become dependency-failed (with what they block
// in the round; counted in out.Blocked), the others are returned to be marked taken. more
// is false when nothing was ready.
func takeReadyRows(ctx context.Context, tx pgx.Tx, in FrontierTake, max int, out *FrontierTaken) (tasks []ShardTask, more bool, err error) {
	rows, err := tx.Query(ctx, `
		WITH ready AS (
			SELECT f.package, f.priority FROM frontier f JOIN package_results r
			  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.round = $3 AND f.remaining = 0 AND f.taken = ''
			  AND r.status = 'pending'
			ORDER BY f.priority DESC, f.package LIMIT $5
			FOR UPDATE OF f SKIP LOCKED -- takes are serialized (lockFrontier); were they not, a package would still go to one
		)
		SELECT pr.package, pr.drv, coalesce(array_agg(d.key) FILTER (WHERE d.key IS NOT NULL), '{}')
		FROM ready JOIN package_results pr ON pr.minor_wave_id = $1 AND pr.system = $2 AND pr.package = ready.package
		LEFT JOIN packages p ON p.evaluation_id = $4 AND p.key = pr.package
		LEFT JOIN edges e ON e.evaluation_id = $4 AND e.pkg = p.idx
		LEFT JOIN packages d ON d.evaluation_id = $4 AND d.idx = e.dep
		GROUP BY pr.package, pr.drv, ready.priority ORDER BY ready.priority DESC, pr.package`,
		in.MinorWaveID, in.System, in.Round, in.EvaluationID, max)
	if err != nil {
		return nil, false, err
	}
	all, err := collectPending(rows)
	if err != nil || len(all) == 0 {
		return nil, false, err
	}
	tasks, blocked, err := gatePending(ctx, tx, in.WaveID, in.MinorWaveID, in.System, all)
	if err != nil {
		return nil, false, err
	}
	if err := leaveReady(ctx, tx, in.MinorWaveID, in.System, blocked); err != nil {
		return nil, false, err
	}
	n, err := settleFrontier(ctx, tx, in.WaveID, in.MinorWaveID, in.System, blocked)
	if err != nil {
		return nil, false, err
	}
	out.Blocked += len(blocked) + n
	return tasks, true, nil
}

// takeForSlots is a slotted take: a package for each of in.Tokens (the build slots of one
// process taking together, one transaction and one gate for all) that has none. A token
// first gets back what it took and has not recorded (a retried slot), then a ready package,
// highest priority first; out.Tasks and out.Tokens say which went to which.
func takeForSlots(ctx context.Context, tx pgx.Tx, in FrontierTake, out *FrontierTaken) error {
	again, err := tx.Query(ctx, `
		SELECT DISTINCT ON (f.taken) f.taken, r.package, r.drv FROM frontier f JOIN package_results r
		  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
		WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.taken = ANY($3) AND r.status = 'pending'
		ORDER BY f.taken, f.priority DESC, f.package`, in.MinorWaveID, in.System, in.Tokens)
	if err != nil {
		return err
	}
	has := map[string]bool{}
	var token string
	var t ShardTask
	if _, err := pgx.ForEachRow(again, []any{&token, &t.Package, &t.Drv}, func() error {
		has[token] = true
		out.Tasks, out.Tokens = append(out.Tasks, t), append(out.Tokens, token)
		return nil
	}); err != nil {
		return err
	}
	var free []string
	for _, tk := range in.Tokens {
		if !has[tk] {
			free = append(free, tk)
		}
	}
	for len(free) > 0 {
		tasks, more, err := takeReadyRows(ctx, tx, in, len(free), out)
		if err != nil || !more {
			return err
		}
		names := make([]string, len(tasks))
		for i, t := range tasks {
			names[i] = t.Package
		}
		if _, err := tx.Exec(ctx, `
			UPDATE frontier f SET taken = t.token FROM unnest($3::text[], $4::text[]) AS t(package, token)
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.package = t.package`,
			in.MinorWaveID, in.System, names, free[:len(tasks)]); err != nil {
			return err
		}
		out.Tasks, out.Tokens = append(out.Tasks, tasks...), append(out.Tokens, free[:len(tasks)]...)
		free = free[len(tasks):]
	}
	return nil
}

// SlotPrecheck tells a build slot, without the frontier's lock, whether a take is worth
// it: stopped when its generation was stopped; worth when it has a package it took and
// did not record, or some package of the round is ready. Most takes of an idle slot find
// nothing, and the lock is what every take of the round waits for. Ready is read from the
// ready index alone, in its order, so that it costs one index probe (a planner that
// expected many ready rows scanned the whole frontier for each idle slot); what leaves the
// index late (takenBlocked) at worst costs a take that finds nothing.
func (s *Store) SlotPrecheck(ctx context.Context, in FrontierTake) (stopped, worth bool, err error) {
	var mine, ready bool
	err = s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM slot_stops WHERE owner = $4 AND generation = $5),
			EXISTS (SELECT 1 FROM frontier f JOIN package_results r
			  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.taken = $6 AND r.status = 'pending'),
			(SELECT f.package FROM frontier f
			WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.round = $3 AND f.remaining = 0 AND f.taken = ''
			ORDER BY f.priority DESC, f.package LIMIT 1) IS NOT NULL`,
		in.MinorWaveID, in.System, in.Round, in.Owner, in.Generation, in.Token).Scan(&stopped, &mine, &ready)
	if err != nil {
		return false, false, fmt.Errorf("take ready packages of round %d: %w", in.Round, err)
	}
	return stopped, mine || ready, nil
}

// roundPending counts a round's pending packages nobody has taken (waiting) and those
// taken, being built (building).
func roundPending(ctx context.Context, tx pgx.Tx, minorWaveID int64, system string, round int) (waiting, building int, err error) {
	err = tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE f.taken = ''), count(*) FILTER (WHERE f.taken <> '')
		FROM frontier f JOIN package_results r
		  ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
		WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.round = $3 AND r.status = 'pending'`,
		minorWaveID, system, round).Scan(&waiting, &building)
	return waiting, building, err
}

// giveBackTakes makes what dispatchers other than owner took and never recorded ready to be
// taken again: a dispatcher started afresh after its predecessor stopped.
func giveBackTakes(ctx context.Context, tx pgx.Tx, minorWaveID int64, system, owner string) error {
	_, err := tx.Exec(ctx, `
		UPDATE frontier f SET taken = '' FROM package_results r
		WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.taken <> '' AND NOT starts_with(f.taken, $3)
		  AND r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package AND r.status = 'pending'`,
		minorWaveID, system, owner+"/")
	return err
}

// OpenSlots prepares a round for the build slots of dispatcher owner: with reset, what other
// dispatchers took and never recorded is given back first (giveBackTakes). It returns how
// many of the round's pending packages nobody has taken (waiting) and how many are taken.
func (s *Store) OpenSlots(ctx context.Context, minorWaveID int64, system string, round int, owner string, reset bool) (waiting, building int, err error) {
	err = s.inTxRetrying(ctx, func(tx pgx.Tx) error {
		if reset {
			if err := giveBackTakes(ctx, tx, minorWaveID, system, owner); err != nil {
				return err
			}
		}
		waiting, building, err = roundPending(ctx, tx, minorWaveID, system, round)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("open build slots of round %d: %w", round, err)
	}
	return waiting, building, nil
}

// StopSlots stops generation of dispatcher owner's build slots: their next take finds
// nothing, and they end once what they build is recorded. Idempotent.
func (s *Store) StopSlots(ctx context.Context, owner string, generation int) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO slot_stops (owner, generation) VALUES ($1, $2) ON CONFLICT DO NOTHING`, owner, generation)
	if err != nil {
		return fmt.Errorf("stop build slots %s/g%d: %w", owner, generation, err)
	}
	return nil
}

// settleFrontier counts final the packages done (built, failed or dependency-failed) for
// their dependents in the round: each dependent waits for one dependency less. A dependent
// left waiting for none whose dependencies did not all build becomes dependency-failed
// (policy.Gate decides, through gatePending) and is settled in turn. It returns how many
// packages it marked dependency-failed.
func settleFrontier(ctx context.Context, tx pgx.Tx, waveID, minorWaveID int64, system string, done []string) (int, error) {
	marked := 0
	for len(done) > 0 {
		// The dependents are locked in key order first: concurrent records of packages that
		// share dependents (a library's many users) then queue behind each other instead of
		// deadlocking, which at 20,000 packages stalled whole rounds.
		rows, err := tx.Query(ctx, `
			WITH c AS (
				SELECT f.round, dep, count(*) AS n FROM frontier f, unnest(f.dependents) AS dep
				WHERE f.minor_wave_id = $1 AND f.system = $2 AND f.package = ANY($3)
				GROUP BY f.round, dep
			), locked AS (
				SELECT d.package, c.n FROM c JOIN frontier d
				  ON d.minor_wave_id = $1 AND d.system = $2 AND d.package = c.dep AND d.round = c.round
				ORDER BY d.package FOR UPDATE OF d
			)
			UPDATE frontier d SET remaining = d.remaining - l.n
			FROM locked l
			WHERE d.minor_wave_id = $1 AND d.system = $2 AND d.package = l.package
			RETURNING d.package, d.remaining, d.deps`, minorWaveID, system, done)
		if err != nil {
			return marked, err
		}
		var ready []pendingTask
		var pkg string
		var remaining int
		var deps []string
		if _, err := pgx.ForEachRow(rows, []any{&pkg, &remaining, &deps}, func() error {
			if remaining == 0 {
				ready = append(ready, pendingTask{task: ShardTask{Package: pkg}, deps: append([]string(nil), deps...)})
			}
			return nil
		}); err != nil {
			return marked, err
		}
		if len(ready) == 0 {
			return marked, nil
		}
		// Only the dependencies inside the round: the ones outside are gated when the
		// package is taken.
		_, blocked, err := gatePending(ctx, tx, waveID, minorWaveID, system, ready)
		if err != nil {
			return marked, err
		}
		if err := leaveReady(ctx, tx, minorWaveID, system, blocked); err != nil {
			return marked, err
		}
		marked += len(blocked)
		done = blocked
	}
	return marked, nil
}

// recordFrontier settles a package whose build was just recorded (in the transaction that
// recorded it).
func recordFrontier(ctx context.Context, tx pgx.Tx, minorWaveID int64, system, pkg string) error {
	if err := lockFrontier(ctx, tx, minorWaveID, system); err != nil {
		return err
	}
	var waveID int64
	if err := tx.QueryRow(ctx, `SELECT wave_id FROM minor_waves WHERE id = $1`, minorWaveID).Scan(&waveID); err != nil {
		return err
	}
	_, err := settleFrontier(ctx, tx, waveID, minorWaveID, system, []string{pkg})
	return err
}

// FrontierState is one package of a round's frontier, for tests and status.
type FrontierState struct {
	Package   string
	Remaining int
	Priority  float64
	Taken     string
	Status    string
	BlockedBy []string
}

// Frontier returns the frontier of a minor wave's packages on one system, by package.
func (s *Store) Frontier(ctx context.Context, minorWaveID int64, system string) ([]FrontierState, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT f.package, f.remaining, f.priority, f.taken, r.status, r.blocked_by
		FROM frontier f JOIN package_results r ON r.minor_wave_id = f.minor_wave_id AND r.system = f.system AND r.package = f.package
		WHERE f.minor_wave_id = $1 AND f.system = $2 ORDER BY f.package`, minorWaveID, system)
	if err != nil {
		return nil, fmt.Errorf("frontier: %w", err)
	}
	var out []FrontierState
	var f FrontierState
	_, err = pgx.ForEachRow(rows, []any{&f.Package, &f.Remaining, &f.Priority, &f.Taken, &f.Status, &f.BlockedBy}, func() error {
		f.BlockedBy = append([]string(nil), f.BlockedBy...)
		out = append(out, f)
		return nil
	})
	return out, err
}
