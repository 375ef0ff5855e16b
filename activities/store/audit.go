package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AuditEntry is one decision or state change with its reason.
type AuditEntry struct {
	// Key makes recording idempotent: an activity retried with the same key records once.
	Key     string          `json:"key,omitempty"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"` // "policy", "person:alice", "crest"
	Wave    string          `json:"wave,omitempty"`
	Package string          `json:"package,omitempty"`
	Action  string          `json:"action"`
	Reason  string          `json:"reason,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
}

// RecordAudit appends an entry unless one with the same key exists; it reports whether it
// wrote.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) (bool, error) {
	return insertAudit(ctx, s.pool, e)
}

// recordAudit is RecordAudit inside a transaction.
func recordAudit(ctx context.Context, tx pgx.Tx, e AuditEntry) error {
	_, err := insertAudit(ctx, tx, e)
	return err
}

func insertAudit(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, e AuditEntry) (bool, error) {
	var key any
	if e.Key != "" {
		key = e.Key
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	tag, err := db.Exec(ctx, `
		INSERT INTO audit_log (key, at, actor, wave, package, action, reason, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (key) DO NOTHING`,
		key, e.At, e.Actor, e.Wave, e.Package, e.Action, e.Reason, nullJSON(e.Details))
	if err != nil {
		return false, fmt.Errorf("record audit %s: %w", e.Action, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Audit lists entries of a wave (a major wave "wave-3" includes its minor waves), oldest
// first; package filters when not empty.
func (s *Store) Audit(ctx context.Context, wave, pkg string) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(key, ''), at, actor, wave, package, action, reason, details
		FROM audit_log
		WHERE ($1 = '' OR wave = $1 OR wave LIKE $1 || '-%') AND ($2 = '' OR package = $2)
		ORDER BY at, id`, wave, pkg)
	if err != nil {
		return nil, fmt.Errorf("audit of %s: %w", wave, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.Key, &e.At, &e.Actor, &e.Wave, &e.Package, &e.Action, &e.Reason, &e.Details); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
