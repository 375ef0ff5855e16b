package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/graph"
)

// Collection is a registered package collection.
type Collection struct {
	ID       int64
	Name     string
	Remote   string
	Settings json.RawMessage
}

// UpsertCollection registers a collection or updates its remote and settings, returning its ID.
func (s *Store) UpsertCollection(ctx context.Context, c Collection) (int64, error) {
	if len(c.Settings) == 0 {
		c.Settings = json.RawMessage("{}")
	}
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO collections (name, remote, settings) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET remote = EXCLUDED.remote, settings = EXCLUDED.settings, updated_at = now()
		RETURNING id`, c.Name, c.Remote, c.Settings).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("upsert collection %s: %w", c.Name, err)
	}
	return id, nil
}

// CollectionByName looks a collection up.
func (s *Store) CollectionByName(ctx context.Context, name string) (Collection, error) {
	c := Collection{Name: name}
	err := s.pool.QueryRow(ctx, `SELECT id, remote, settings FROM collections WHERE name = $1`, name).
		Scan(&c.ID, &c.Remote, &c.Settings)
	if err != nil {
		return c, notFound(err, "collection "+name)
	}
	return c, nil
}

// Evaluation identifies a stored package graph.
type Evaluation struct {
	ID           int64
	CollectionID int64
	Commit       string
	System       string
	Packages     int
	Edges        int
}

// SaveEvaluation stores the package graph of a collection at commit for system, in one
// transaction with COPY for packages and edges. An evaluation is stored once per commit and
// system: saving it again returns the existing one (created false) without writing.
// Dependencies on keys outside pkgs are an error naming them.
func (s *Store) SaveEvaluation(ctx context.Context, collectionID int64, commit, system string, pkgs []graph.Package) (Evaluation, bool, error) {
	ev := Evaluation{CollectionID: collectionID, Commit: commit, System: system, Packages: len(pkgs)}
	if existing, err := s.FindEvaluation(ctx, collectionID, commit, system); err == nil {
		return existing, false, nil
	}
	index := make(map[string]int32, len(pkgs))
	for i, p := range pkgs {
		if _, dup := index[p.Key]; dup {
			return ev, false, fmt.Errorf("save evaluation: duplicate package %q", p.Key)
		}
		index[p.Key] = int32(i)
	}
	type edge struct{ pkg, dep int32 }
	edges := make([]edge, 0, len(pkgs)*8)
	seen := map[int32]bool{}
	for i, p := range pkgs {
		clear(seen)
		for _, d := range p.Deps {
			j, ok := index[d]
			if !ok {
				return ev, false, fmt.Errorf("save evaluation: package %q depends on unknown package %q", p.Key, d)
			}
			if !seen[j] { // a dependency listed twice is one edge
				seen[j] = true
				edges = append(edges, edge{int32(i), j})
			}
		}
	}
	ev.Edges = len(edges)

	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO evaluations (collection_id, commit, system, package_count, edge_count)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			collectionID, commit, system, len(pkgs), len(edges)).Scan(&ev.ID); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"packages"},
			[]string{"evaluation_id", "idx", "key", "name", "version", "drv", "tests", "maintainers", "broken", "cost"},
			pgx.CopyFromSlice(len(pkgs), func(i int) ([]any, error) {
				p := &pkgs[i]
				var tests, cost any
				if len(p.Tests) > 0 {
					tests = p.Tests
				}
				if p.Cost != (graph.CostHints{}) {
					cost = p.Cost
				}
				return []any{ev.ID, int32(i), p.Key, p.Name, p.Version, p.Drv, tests, p.Maintainers, p.Broken, cost}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy packages: %w", err)
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"edges"}, []string{"evaluation_id", "pkg", "dep"},
			pgx.CopyFromSlice(len(edges), func(i int) ([]any, error) {
				return []any{ev.ID, edges[i].pkg, edges[i].dep}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy edges: %w", err)
		}
		return nil
	})
	if isUniqueViolation(err) {
		// A concurrent evaluation of the same commit won; use its result.
		existing, ferr := s.FindEvaluation(ctx, collectionID, commit, system)
		return existing, false, ferr
	}
	if err != nil {
		return ev, false, fmt.Errorf("save evaluation of %s: %w", commit, err)
	}
	return ev, true, nil
}

// FindEvaluation returns the stored evaluation of a commit, or ErrNotFound.
func (s *Store) FindEvaluation(ctx context.Context, collectionID int64, commit, system string) (Evaluation, error) {
	ev := Evaluation{CollectionID: collectionID, Commit: commit, System: system}
	err := s.pool.QueryRow(ctx, `
		SELECT id, package_count, edge_count FROM evaluations
		WHERE collection_id = $1 AND commit = $2 AND system = $3`, collectionID, commit, system).
		Scan(&ev.ID, &ev.Packages, &ev.Edges)
	if err != nil {
		return ev, notFound(err, fmt.Sprintf("evaluation of %s (%s)", commit, system))
	}
	return ev, nil
}

// Evaluation returns an evaluation's metadata by ID.
func (s *Store) Evaluation(ctx context.Context, id int64) (Evaluation, error) {
	ev := Evaluation{ID: id}
	err := s.pool.QueryRow(ctx, `
		SELECT collection_id, commit, system, package_count, edge_count FROM evaluations WHERE id = $1`, id).
		Scan(&ev.CollectionID, &ev.Commit, &ev.System, &ev.Packages, &ev.Edges)
	if err != nil {
		return ev, notFound(err, fmt.Sprintf("evaluation %d", id))
	}
	return ev, nil
}

// LoadPackages reads an evaluation's packages back in their stored order, with their
// dependencies, in two queries.
func (s *Store) LoadPackages(ctx context.Context, evaluationID int64) ([]graph.Package, error) {
	ev, err := s.Evaluation(ctx, evaluationID)
	if err != nil {
		return nil, err
	}
	pkgs := make([]graph.Package, 0, ev.Packages)
	rows, err := s.pool.Query(ctx, `
		SELECT key, name, version, drv, tests, maintainers, broken, cost
		FROM packages WHERE evaluation_id = $1 ORDER BY idx`, evaluationID)
	if err != nil {
		return nil, fmt.Errorf("load packages of evaluation %d: %w", evaluationID, err)
	}
	for rows.Next() {
		p := graph.Package{System: ev.System}
		var cost *graph.CostHints
		if err := rows.Scan(&p.Key, &p.Name, &p.Version, &p.Drv, &p.Tests, &p.Maintainers, &p.Broken, &cost); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load packages of evaluation %d: %w", evaluationID, err)
		}
		if cost != nil {
			p.Cost = *cost
		}
		pkgs = append(pkgs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load packages of evaluation %d: %w", evaluationID, err)
	}
	rows, err = s.pool.Query(ctx, `SELECT pkg, dep FROM edges WHERE evaluation_id = $1 ORDER BY pkg, dep`, evaluationID)
	if err != nil {
		return nil, fmt.Errorf("load edges of evaluation %d: %w", evaluationID, err)
	}
	var pkg, dep int32
	_, err = pgx.ForEachRow(rows, []any{&pkg, &dep}, func() error {
		if int(pkg) >= len(pkgs) || int(dep) >= len(pkgs) {
			return fmt.Errorf("edge %d→%d outside the evaluation's %d packages", pkg, dep, len(pkgs))
		}
		pkgs[pkg].Deps = append(pkgs[pkg].Deps, pkgs[dep].Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load edges of evaluation %d: %w", evaluationID, err)
	}
	return pkgs, nil
}

// PackageAt returns one package of an evaluation (without its dependencies).
func (s *Store) PackageAt(ctx context.Context, evaluationID int64, key string) (graph.Package, error) {
	p := graph.Package{Key: key}
	err := s.pool.QueryRow(ctx, `
		SELECT p.name, p.version, p.drv, p.tests, p.maintainers, p.broken, e.system
		FROM packages p JOIN evaluations e ON e.id = p.evaluation_id
		WHERE p.evaluation_id = $1 AND p.key = $2`, evaluationID, key).
		Scan(&p.Name, &p.Version, &p.Drv, &p.Tests, &p.Maintainers, &p.Broken, &p.System)
	if err != nil {
		return p, notFound(err, fmt.Sprintf("package %s in evaluation %d", key, evaluationID))
	}
	return p, nil
}
