package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version   int
	Name      string
	SQL       string
	AppliedAt time.Time // zero when pending
}

// migrationLock is the advisory lock key that serializes migrators ("crest" in ASCII).
const migrationLock = 0x6372657374

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate applies every pending migration, each in its own transaction together with its
// bookkeeping row, holding an advisory lock for the whole run so that concurrent starters
// (two workers booting at once) apply each migration exactly once. It returns what it
// applied; a second run applies nothing.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	// The lock also ends with the session if the unlock fails.
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []Migration
	for _, m := range all {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&exists); err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if exists {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2) RETURNING applied_at`,
				m.Version, m.Name).Scan(&m.AppliedAt)
		})
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// MigrationStatus lists every known migration with when it was applied (zero if pending),
// plus versions recorded in the database that this binary does not know (a newer Crest ran).
func (s *Store) MigrationStatus(ctx context.Context) (known []Migration, unknown []int, err error) {
	known, err = Migrations()
	if err != nil {
		return nil, nil, err
	}
	var hasTable bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&hasTable); err != nil {
		return nil, nil, fmt.Errorf("migration status: %w", err)
	}
	if !hasTable {
		return known, nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, nil, fmt.Errorf("migration status: %w", err)
	}
	appliedAt := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, nil, err
		}
		appliedAt[v] = at
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for i := range known {
		if at, ok := appliedAt[known[i].Version]; ok {
			known[i].AppliedAt = at
			delete(appliedAt, known[i].Version)
		}
	}
	for v := range appliedAt {
		unknown = append(unknown, v)
	}
	sort.Ints(unknown)
	return known, unknown, nil
}
