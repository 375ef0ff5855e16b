// Package store is Crest's PostgreSQL store and the only package that imports pgx.
//
// It owns the schema (numbered, embedded SQL migrations applied transactionally and tracked
// in schema_migrations), a single transaction helper through which every multi-statement
// write goes, COPY-based bulk loads for evaluations (100k packages and their edges in one
// round trip each), and the mapping of pgx.ErrNoRows to ErrNotFound at the boundary.
//
// Callers build a Store from a DSN in cmd and hand it to the activities; nothing else
// touches the database.
package store
