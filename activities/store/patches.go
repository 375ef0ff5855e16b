package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/activities/wavename"
)

// Patch states.
const (
	PatchRunning   = "running"
	PatchDone      = "done"
	PatchFailed    = "failed"
	PatchCancelled = "cancelled"
)

// Patch tag states.
const (
	PatchTagRunning = "running"
	// PatchTagUnfinished: a duplicate wave re-verifies the fix; its unfinished tag may be
	// pinned by name meanwhile.
	PatchTagUnfinished = "unfinished"
	PatchTagTagged     = "tagged"
	PatchTagFailed     = "failed"
)

// Patch is a security patch's row.
type Patch struct {
	ID           int64     `json:"id"`
	CollectionID int64     `json:"collection_id"`
	Collection   string    `json:"collection"`
	WorkflowID   string    `json:"workflow_id"`
	Package      string    `json:"package"`
	Ref          string    `json:"ref"`
	Strategy     string    `json:"strategy"`
	Severity     string    `json:"severity"`
	Advisory     string    `json:"advisory,omitempty"`
	State        string    `json:"state"`
	Reason       string    `json:"reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// PatchTag is a finished tag a patch covers, and the security tag it made of it.
type PatchTag struct {
	PatchID    int64           `json:"patch_id"`
	CoveredTag string          `json:"covered_tag"`
	Number     int             `json:"number"` // K of <tag>-security-K
	Name       string          `json:"name"`
	Branch     string          `json:"branch"`
	Commit     string          `json:"commit,omitempty"`
	State      string          `json:"state"`
	Reason     string          `json:"reason,omitempty"`
	Summary    json.RawMessage `json:"summary,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	TaggedAt   *time.Time      `json:"tagged_at,omitempty"`
	// Strategy is the one the covered tag was patched with, once decided.
	Strategy string `json:"strategy,omitempty"`
	// MinorWaveID is the build round of a rebuild (0 for other strategies).
	MinorWaveID int64 `json:"minor_wave_id,omitempty"`
	// DuplicateWave is the number of the major wave that re-verifies the fix
	// (duplicate-wave); UnfinishedTag the tag of the fix pushed meanwhile.
	DuplicateWave int    `json:"duplicate_wave,omitempty"`
	UnfinishedTag string `json:"unfinished_tag,omitempty"`
}

// GraftDebt is one graft a patch made: debt against the major wave of its covered tag
// until a later minor wave rebuilds Package against the patched package.
type GraftDebt struct {
	PatchID           int64      `json:"patch_id"`
	CoveredTag        string     `json:"covered_tag"`
	WaveID            int64      `json:"wave_id"`
	System            string     `json:"system"`
	Package           string     `json:"package"`
	PatchedPackage    string     `json:"patched_package"`
	PatchedDrv        string     `json:"patched_drv"`
	VulnerableVersion string     `json:"vulnerable_version"`
	OldPath           string     `json:"old_path"`
	NewPath           string     `json:"new_path"`
	CreatedAt         time.Time  `json:"created_at"`
	RetiredBy         string     `json:"retired_by,omitempty"`
	RetiredAt         *time.Time `json:"retired_at,omitempty"`
}

const patchColumns = `p.id, p.collection_id, c.name, p.workflow_id, p.package, p.ref, p.strategy, p.severity, p.advisory,
	p.state, p.reason, p.created_at, p.updated_at`

func scanPatch(row pgx.Row) (Patch, error) {
	var p Patch
	err := row.Scan(&p.ID, &p.CollectionID, &p.Collection, &p.WorkflowID, &p.Package, &p.Ref, &p.Strategy, &p.Severity,
		&p.Advisory, &p.State, &p.Reason, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// CreatePatch registers a patch for its workflow ID, with its audit entry, in one
// transaction. It is idempotent: the same workflow ID gets its patch back.
func (s *Store) CreatePatch(ctx context.Context, p Patch, audit AuditEntry) (Patch, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO patches (collection_id, workflow_id, package, ref, strategy, severity, advisory, state, reason)
			SELECT c.id, $2, $3, $4, $5, $6, $7, 'running', $8 FROM collections c WHERE c.name = $1
			ON CONFLICT (workflow_id) DO NOTHING`,
			p.Collection, p.WorkflowID, p.Package, p.Ref, p.Strategy, p.Severity, p.Advisory, p.Reason)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return recordAudit(ctx, tx, audit)
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("create patch %s: %w", p.WorkflowID, err)
	}
	return s.PatchByWorkflow(ctx, p.WorkflowID)
}

// PatchByWorkflow returns the patch of a workflow.
func (s *Store) PatchByWorkflow(ctx context.Context, workflowID string) (Patch, error) {
	p, err := scanPatch(s.pool.QueryRow(ctx, `SELECT `+patchColumns+`
		FROM patches p JOIN collections c ON c.id = p.collection_id WHERE p.workflow_id = $1`, workflowID))
	if err != nil {
		return p, notFound(err, "patch "+workflowID)
	}
	return p, nil
}

// Patches lists a collection's patches ("" for every collection), newest first.
func (s *Store) Patches(ctx context.Context, collection string) ([]Patch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+patchColumns+`
		FROM patches p JOIN collections c ON c.id = p.collection_id
		WHERE $1 = '' OR c.name = $1 ORDER BY p.created_at DESC, p.id DESC`, collection)
	if err != nil {
		return nil, fmt.Errorf("list patches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Patch, error) { return scanPatch(row) })
	if err != nil {
		return nil, fmt.Errorf("list patches: %w", err)
	}
	return out, nil
}

// SetPatchState records a patch's state, its strategy (when not empty) and reason, with
// the audit entry, in one transaction.
func (s *Store) SetPatchState(ctx context.Context, patchID int64, state, strategy, reason string, audit AuditEntry) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE patches SET state = $2, strategy = CASE WHEN $3 = '' THEN strategy ELSE $3 END, reason = $4, updated_at = now()
			WHERE id = $1`, patchID, state, strategy, reason); err != nil {
			return err
		}
		return recordAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("record patch state %s: %w", state, err)
	}
	return nil
}

// StartPatchTag allocates the security tag of a covered tag for a patch: K is one more
// than the newest security tag of the covered tag, whichever patch made it. Idempotent:
// the same patch and covered tag get their row back.
func (s *Store) StartPatchTag(ctx context.Context, patchID int64, covered string) (PatchTag, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var collectionID int64
		if err := tx.QueryRow(ctx, `SELECT collection_id FROM patches WHERE id = $1`, patchID).Scan(&collectionID); err != nil {
			return notFound(err, fmt.Sprintf("patch %d", patchID))
		}
		// Serialize K allocation per collection.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM collections WHERE id = $1 FOR UPDATE`, collectionID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO patch_tags (patch_id, collection_id, covered_tag, number, name, branch, state)
			SELECT $1, $2, $3, n, $3 || '-security-' || n, 'security/' || $3 || '-security-' || n, 'running'
			FROM (SELECT coalesce(max(number), 0) + 1 AS n FROM patch_tags WHERE collection_id = $2 AND covered_tag = $3) k
			ON CONFLICT (patch_id, covered_tag) DO NOTHING`, patchID, collectionID, covered)
		return err
	})
	if err != nil {
		return PatchTag{}, fmt.Errorf("start security tag of %s: %w", covered, err)
	}
	return s.patchTag(ctx, patchID, covered)
}

// patchTag returns one covered tag of a patch.
func (s *Store) patchTag(ctx context.Context, patchID int64, covered string) (PatchTag, error) {
	tags, err := s.patchTags(ctx, patchID, covered)
	if err != nil {
		return PatchTag{}, err
	}
	if len(tags) != 1 {
		return PatchTag{}, fmt.Errorf("security tag of %s: %w", covered, ErrNotFound)
	}
	return tags[0], nil
}

// PatchTags lists the covered tags of a patch, in the order they were started.
func (s *Store) PatchTags(ctx context.Context, patchID int64) ([]PatchTag, error) {
	return s.patchTags(ctx, patchID, "")
}

func (s *Store) patchTags(ctx context.Context, patchID int64, covered string) ([]PatchTag, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT patch_id, covered_tag, number, name, branch, commit, state, reason, coalesce(summary, 'null'), created_at, tagged_at,
			strategy, coalesce(minor_wave_id, 0), duplicate_wave, unfinished_tag
		FROM patch_tags WHERE patch_id = $1 AND ($2 = '' OR covered_tag = $2) ORDER BY created_at, covered_tag`, patchID, covered)
	if err != nil {
		return nil, fmt.Errorf("security tags of patch %d: %w", patchID, err)
	}
	defer rows.Close()
	var out []PatchTag
	for rows.Next() {
		var t PatchTag
		if err := rows.Scan(&t.PatchID, &t.CoveredTag, &t.Number, &t.Name, &t.Branch, &t.Commit, &t.State, &t.Reason,
			&t.Summary, &t.CreatedAt, &t.TaggedAt, &t.Strategy, &t.MinorWaveID, &t.DuplicateWave, &t.UnfinishedTag); err != nil {
			return nil, err
		}
		if string(t.Summary) == "null" {
			t.Summary = nil
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TaggedPatch is what RecordPatchTag writes: the security tag, its grafts and the audit
// entry.
type TaggedPatch struct {
	PatchID    int64
	CoveredTag string
	Commit     string
	Summary    json.RawMessage
	Grafts     []GraftDebt
	Audit      AuditEntry
	// Strategy is the strategy that made the tag ("" keeps what is recorded).
	Strategy string
	// Name and MinorWaveID, for a rebuild: its security tag's name and build round. The
	// grafts of the covered tag whose dependents the round rebuilt green against the fix
	// are retired with Name: a rebuild leaves no debt and pays what earlier grafts left.
	Name        string
	MinorWaveID int64
}

// RecordPatchTag records a pushed security tag, the grafts it carries as debt, the debt a
// rebuild retired and its audit entry in one transaction. It returns how many grafts it
// retired. Idempotent: grafts already recorded or retired are kept as they are.
func (s *Store) RecordPatchTag(ctx context.Context, t TaggedPatch) (int64, error) {
	var retired int64
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE patch_tags SET commit = $3, state = 'tagged', reason = '', summary = $4, tagged_at = coalesce(tagged_at, now()),
				strategy = CASE WHEN $5 = '' THEN strategy ELSE $5 END
			WHERE patch_id = $1 AND covered_tag = $2`, t.PatchID, t.CoveredTag, t.Commit, t.Summary, t.Strategy)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("security tag of %s for patch %d: %w", t.CoveredTag, t.PatchID, ErrNotFound)
		}
		if t.MinorWaveID != 0 {
			if retired, err = retireGrafts(ctx, tx, t.MinorWaveID, t.Name, t.Commit, t.CoveredTag); err != nil {
				return err
			}
		}
		for _, g := range t.Grafts {
			if _, err := tx.Exec(ctx, `
				INSERT INTO grafts (patch_id, covered_tag, wave_id, system, package, patched_package, patched_drv,
					vulnerable_version, old_path, new_path)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (patch_id, covered_tag, system, package) DO NOTHING`,
				t.PatchID, t.CoveredTag, g.WaveID, g.System, g.Package, g.PatchedPackage, g.PatchedDrv,
				g.VulnerableVersion, g.OldPath, g.NewPath); err != nil {
				return err
			}
		}
		if len(t.Grafts) > 0 {
			if err := retirePaidGrafts(ctx, tx, t.PatchID, t.CoveredTag); err != nil {
				return err
			}
		}
		return recordAudit(ctx, tx, t.Audit)
	})
	if err != nil {
		return 0, fmt.Errorf("record security tag of %s: %w", t.CoveredTag, err)
	}
	return retired, nil
}

// SetPatchTagRound records the strategy of a covered tag and the build round of its
// rebuild.
func (s *Store) SetPatchTagRound(ctx context.Context, patchID int64, covered, strategy string, minorWaveID int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE patch_tags SET strategy = $3, minor_wave_id = $4 WHERE patch_id = $1 AND covered_tag = $2`,
		patchID, covered, strategy, minorWaveID); err != nil {
		return fmt.Errorf("record the rebuild of %s: %w", covered, err)
	}
	return nil
}

// MarkUnfinished records that a duplicate wave re-verifies a covered tag: its strategy,
// the wave's number and the unfinished tag of the fix, with the reason and the audit
// entry, in one transaction. Idempotent: a wave and tag recorded first are kept, and the
// row as recorded is returned (so a retried caller uses the same wave).
func (s *Store) MarkUnfinished(ctx context.Context, patchID int64, covered, strategy string, wave int, unfinished, reason string,
	audit AuditEntry) (PatchTag, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		done, err := tx.Exec(ctx, `
			UPDATE patch_tags SET strategy = $3, duplicate_wave = $4, unfinished_tag = $5, state = 'unfinished', reason = $6
			WHERE patch_id = $1 AND covered_tag = $2 AND duplicate_wave = 0`, patchID, covered, strategy, wave, unfinished, reason)
		if err != nil || done.RowsAffected() == 0 {
			return err
		}
		return recordAudit(ctx, tx, audit)
	})
	if err != nil {
		return PatchTag{}, fmt.Errorf("record the duplicate wave of %s: %w", covered, err)
	}
	return s.patchTag(ctx, patchID, covered)
}

// FailPatchTag records why a covered tag got no security tag, with the audit entry.
func (s *Store) FailPatchTag(ctx context.Context, patchID int64, covered, reason string, audit AuditEntry) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE patch_tags SET state = 'failed', reason = $3 WHERE patch_id = $1 AND covered_tag = $2 AND state <> 'tagged'`,
			patchID, covered, reason); err != nil {
			return err
		}
		return recordAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("record failure of %s: %w", covered, err)
	}
	return nil
}

// Grafts lists a patch's grafts, open ones first, then by covered tag and package.
func (s *Store) Grafts(ctx context.Context, patchID int64) ([]GraftDebt, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT patch_id, covered_tag, wave_id, system, package, patched_package, patched_drv, vulnerable_version,
			old_path, new_path, created_at, retired_by, retired_at
		FROM grafts WHERE patch_id = $1 ORDER BY retired_at IS NOT NULL, covered_tag, system, package`, patchID)
	if err != nil {
		return nil, fmt.Errorf("grafts of patch %d: %w", patchID, err)
	}
	defer rows.Close()
	var out []GraftDebt
	for rows.Next() {
		var g GraftDebt
		if err := rows.Scan(&g.PatchID, &g.CoveredTag, &g.WaveID, &g.System, &g.Package, &g.PatchedPackage, &g.PatchedDrv,
			&g.VulnerableVersion, &g.OldPath, &g.NewPath, &g.CreatedAt, &g.RetiredBy, &g.RetiredAt); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// SecurityTag is the newest security tag made of a covered tag, with the patch that made
// it: its package and the ref of its fix, and the tag's JSON summary.
type SecurityTag struct {
	Name    string          `json:"name"`
	Commit  string          `json:"commit"`
	Package string          `json:"package"`
	Ref     string          `json:"ref"`
	Summary json.RawMessage `json:"summary,omitempty"`
}

// NewestSecurityTag returns the newest security tag made of a finished tag of a
// collection; ErrNotFound when there is none.
func (s *Store) NewestSecurityTag(ctx context.Context, collectionID int64, covered string) (SecurityTag, error) {
	var t SecurityTag
	err := s.pool.QueryRow(ctx, `
		SELECT t.name, t.commit, p.package, p.ref, coalesce(t.summary, '{}') FROM patch_tags t JOIN patches p ON p.id = t.patch_id
		WHERE t.collection_id = $1 AND t.covered_tag = $2 AND t.state = 'tagged'
		ORDER BY t.number DESC LIMIT 1`, collectionID, covered).Scan(&t.Name, &t.Commit, &t.Package, &t.Ref, &t.Summary)
	if err != nil {
		return t, notFound(err, "security tag of "+covered)
	}
	return t, nil
}

// EvaluationsAt lists the stored evaluations of a collection at a commit, by system.
func (s *Store) EvaluationsAt(ctx context.Context, collectionID int64, commit string) ([]Evaluation, error) {
	return s.evaluationsAt(ctx, collectionID, commit)
}

// retireGrafts marks retired, with tag, every open graft of the collection (of the
// covered tag covered, when not empty) whose dependent the minor wave or build round
// minorWaveID rebuilt green at a commit where the patched package is fixed: the patched
// derivation itself, or another version than the vulnerable one. Runs inside
// FinishMinorWave's transaction (a wave pays every tag's debt) or RecordPatchTag's (a
// rebuild pays its covered tag's); a graft retired already stays as it was. It returns
// how many it retired.
func retireGrafts(ctx context.Context, tx pgx.Tx, minorWaveID int64, tag, commit, covered string) (int64, error) {
	done, err := tx.Exec(ctx, `
		UPDATE grafts g SET retired_by = $2, retired_at = now()
		FROM minor_waves m JOIN waves w ON w.id = m.wave_id, patches p
		WHERE m.id = $1 AND p.id = g.patch_id AND p.collection_id = w.collection_id AND g.retired_at IS NULL
		  AND ($4 = '' OR g.covered_tag = $4)
		  AND EXISTS (SELECT 1 FROM package_results r
		              WHERE r.minor_wave_id = m.id AND r.system = g.system AND r.package = g.package AND r.status = 'passed')
		  AND EXISTS (SELECT 1 FROM evaluations e JOIN packages k ON k.evaluation_id = e.id
		              WHERE e.collection_id = w.collection_id AND e.commit = $3 AND e.system = g.system
		                AND k.key = g.patched_package AND (k.drv = g.patched_drv OR k.version <> g.vulnerable_version))`,
		minorWaveID, tag, commit, covered)
	if err != nil {
		return 0, fmt.Errorf("retire grafts: %w", err)
	}
	return done.RowsAffected(), nil
}

// retirePaidGrafts marks retired the grafts a patch just made of a covered tag that a
// wave tag made before already paid, by retireGrafts' rule, with the earliest such tag:
// a patch of an old tag after the fix reached a later wave makes grafts for the people
// who pin the old tag, but the collection owes no rebuild for them.
func retirePaidGrafts(ctx context.Context, tx pgx.Tx, patchID int64, covered string) error {
	rows, err := tx.Query(ctx, `
		SELECT t.minor_wave_id, t.name, t.commit FROM tags t JOIN patches p ON p.collection_id = t.collection_id
		WHERE p.id = $1 AND t.minor_wave_id IS NOT NULL AND EXISTS (
			SELECT 1 FROM grafts g JOIN package_results r ON r.system = g.system AND r.package = g.package
			WHERE g.patch_id = $1 AND g.covered_tag = $2 AND g.retired_at IS NULL
			  AND r.minor_wave_id = t.minor_wave_id AND r.status = 'passed')
		ORDER BY t.created_at, t.name`, patchID, covered)
	if err != nil {
		return fmt.Errorf("retire grafts paid already: %w", err)
	}
	type paying struct {
		minorWaveID  int64
		name, commit string
	}
	tags, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (paying, error) {
		var p paying
		return p, r.Scan(&p.minorWaveID, &p.name, &p.commit)
	})
	if err != nil {
		return fmt.Errorf("retire grafts paid already: %w", err)
	}
	for _, t := range tags {
		if _, err := retireGrafts(ctx, tx, t.minorWaveID, t.name, t.commit, covered); err != nil {
			return err
		}
	}
	return nil
}

// isNotFound reports a domain not-found.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// WaveOfMinor returns the major wave of a minor wave.
func (s *Store) WaveOfMinor(ctx context.Context, minorWaveID int64) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT wave_id FROM minor_waves WHERE id = $1`, minorWaveID).Scan(&id); err != nil {
		return 0, notFound(err, fmt.Sprintf("minor wave %d", minorWaveID))
	}
	return id, nil
}

// PatchBuilds counts the builds recorded under a key prefix (a patch's workflow ID):
// what a patch built from source.
func (s *Store) PatchBuilds(ctx context.Context, keyPrefix string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT package FROM builds WHERE starts_with(key, $1) AND status <> 'running' ORDER BY package`, keyPrefix+"/")
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", keyPrefix, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// RunningWave is a major wave that has not ended, whose base contains a package: a
// security patch of that package is merged onto its branch.
type RunningWave struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"` // wave-N
	WorkflowID string `json:"workflow_id"`
	Branch     string `json:"branch"`
	// UpdatesPackage: one of its minor waves updates the package itself.
	UpdatesPackage bool `json:"updates_package"`
}

// RunningWavesWith lists the collection's major waves that have not ended (done, failed,
// cancelled) and whose base evaluation contains pkg (a key), oldest first. A wave still
// starting (no base commit yet) is left out: it has not evaluated anything to patch. Build
// rounds of rebuilds and queues (negative numbers) are not major waves.
func (s *Store) RunningWavesWith(ctx context.Context, collection, pkg string) ([]RunningWave, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT w.id, w.number, `+tagPrefixColumn+`, w.workflow_id, w.branch,
			EXISTS (SELECT 1 FROM minor_waves m, jsonb_array_elements(m.updates) u
			        WHERE m.wave_id = w.id AND u->>'package' = $2)
		FROM waves w JOIN collections c ON c.id = w.collection_id
		WHERE c.name = $1 AND w.number > 0 AND w.base_commit <> '' AND w.state NOT IN ('done', 'failed', 'cancelled')
		  AND EXISTS (SELECT 1 FROM evaluations e JOIN packages k ON k.evaluation_id = e.id
		              WHERE e.collection_id = w.collection_id AND e.commit = w.base_commit AND k.key = $2)
		ORDER BY w.number`, collection, pkg)
	if err != nil {
		return nil, fmt.Errorf("running waves with %s: %w", pkg, err)
	}
	var out []RunningWave
	var w RunningWave
	var number int
	var prefix string
	_, err = pgx.ForEachRow(rows, []any{&w.ID, &number, &prefix, &w.WorkflowID, &w.Branch, &w.UpdatesPackage}, func() error {
		w.Name = wavename.Major(prefix, number)
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("running waves with %s: %w", pkg, err)
	}
	return out, nil
}

// Patch merge states.
const (
	PatchMergeMerged  = "merged"
	PatchMergeRefused = "refused"
)

// PatchMerge is a patch's fix merged onto a running wave's branch, or refused there.
type PatchMerge struct {
	PatchID   int64     `json:"patch_id"`
	WaveID    int64     `json:"wave_id"`
	Wave      string    `json:"wave"`
	Branch    string    `json:"branch"`
	State     string    `json:"state"`
	Commit    string    `json:"commit,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// RecordPatchMerge records how a patch's fix went onto a running wave's branch, with the
// audit entry, in one transaction. Idempotent: the first record of a patch and wave stays.
func (s *Store) RecordPatchMerge(ctx context.Context, m PatchMerge, audit AuditEntry) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		done, err := tx.Exec(ctx, `
			INSERT INTO patch_merges (patch_id, wave_id, wave, branch, state, commit, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (patch_id, wave_id) DO NOTHING`,
			m.PatchID, m.WaveID, m.Wave, m.Branch, m.State, m.Commit, m.Reason)
		if err != nil || done.RowsAffected() == 0 {
			return err
		}
		return recordAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("record the merge of patch %d into %s: %w", m.PatchID, m.Wave, err)
	}
	return nil
}

// PatchMerges lists the running waves a patch reached, in the order they were recorded.
func (s *Store) PatchMerges(ctx context.Context, patchID int64) ([]PatchMerge, error) {
	return s.patchMerges(ctx, fmt.Sprintf("merges of patch %d", patchID), `patch_id = $1`, patchID)
}

// WaveFixes lists the security fixes patches merged into a wave's branch (or that it
// refused), in the order they were recorded.
func (s *Store) WaveFixes(ctx context.Context, waveID int64) ([]PatchMerge, error) {
	return s.patchMerges(ctx, fmt.Sprintf("security fixes of wave %d", waveID), `wave_id = $1`, waveID)
}

func (s *Store) patchMerges(ctx context.Context, what, where string, arg int64) ([]PatchMerge, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT patch_id, wave_id, wave, branch, state, commit, reason, created_at
		FROM patch_merges WHERE `+where+` ORDER BY created_at, wave`, arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PatchMerge])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
