package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates database name on the server at adminDSN, copying template when
// given (a migrated template makes a fresh test database in milliseconds).
func CreateDatabase(ctx context.Context, adminDSN, name, template string) error {
	return withAdmin(ctx, adminDSN, func(conn *pgx.Conn) error {
		sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
		if template != "" {
			sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		return nil
	})
}

// DropDatabase drops database name if it exists, disconnecting its sessions.
func DropDatabase(ctx context.Context, adminDSN, name string) error {
	return withAdmin(ctx, adminDSN, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	})
}

func withAdmin(ctx context.Context, adminDSN string, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", RedactDSN(adminDSN), scrub(err, adminDSN))
	}
	defer conn.Close(ctx)
	return fn(conn)
}
