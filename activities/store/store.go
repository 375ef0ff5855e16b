package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrTaken is returned when a name or number asked for belongs to something else.
var ErrTaken = errors.New("already taken")

// defaultMaxConns sizes the pool unless the URL says pool_max_conns: at 20,000 no-op builds
// 4 connections gave 156 builds/s, 8 gave 287, 32 gave 321.
const defaultMaxConns = 32

// Store is the handle on Crest's database.
type Store struct {
	pool *pgxpool.Pool
	// takes serializes this process's takes per minor wave and system before they hold a
	// connection (lockFrontier serializes them across processes): build slots waiting for
	// their turn on the database's lock held every connection of the pool, and the records
	// that free packages waited for one.
	takes sync.Map // "<minor wave>/<system>" → *sync.Mutex
}

// Open connects to the database at dsn and checks that it answers. Errors never carry the
// DSN's password.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url %s: %w", RedactDSN(dsn), scrub(err, dsn))
	}
	if !strings.Contains(dsn, "pool_max_conns") && cfg.MaxConns < defaultMaxConns {
		// pgx's default (4 on two cores) starves a worker's builds: each records in Postgres.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", RedactDSN(dsn), scrub(err, dsn))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", RedactDSN(dsn), scrub(err, dsn))
	}
	return &Store{pool: pool}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// InTx runs fn in one transaction, committing when it returns nil and rolling back
// otherwise. Every multi-statement write goes through here.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// retryableTx are the errors after which a transaction is worth running again as it was:
// deadlock_detected and serialization_failure. Postgres aborted it to let another finish.
var retryableTx = []string{"40P01", "40001"}

// inTxRetrying is InTx for transactions that are safe to run again (idempotent by key) and
// may lose a deadlock to another (two builds freeing overlapping dependents): it runs fn
// again, up to four more times, after Postgres aborted it as a deadlock victim or a
// serialization failure. Without it the error reached the activity, whose retry ran the
// builder again.
func (s *Store) inTxRetrying(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return retryAborted(ctx, func() error { return s.InTx(ctx, fn) })
}

// retryAborted runs run until it does not fail with a retryableTx error, five times at most.
func retryAborted(ctx context.Context, run func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = run()
		var pg *pgconn.PgError
		if attempt == 5 || !errors.As(err, &pg) || !slices.Contains(retryableTx, pg.Code) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
		}
	}
}

// RedactDSN returns dsn with any password replaced, for logs and messages.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// key=value form or garbage: keep only what cannot be a secret.
		return "(database url)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// scrub drops the DSN's password from an error's text: pgx errors can quote the connection
// string they failed to parse.
func scrub(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil {
		return errors.New("invalid connection string")
	}
	pw, has := u.User.Password()
	if !has || pw == "" {
		if q := u.Query().Get("password"); q != "" {
			pw, has = q, true
		}
	}
	if !has || pw == "" {
		return err
	}
	return redactedError{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }

// Is keeps errors.Is working for sentinel checks without exposing the wrapped text.
func (e redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// notFound maps pgx's no-rows to the domain error with what was looked up.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isUniqueViolation reports a unique constraint failure (a concurrent writer won).
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
