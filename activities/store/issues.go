package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/activities/wavename"
)

// LocalTracker is the name of the local tracker (activities/tracker/local), whose issues
// live in this database: listings count their comments, people's included, where for
// other trackers they count only the comments Crest wrote.
const LocalTracker = "local"

// The states of an issue (issues and local_issues).
const (
	IssueOpen   = "open"
	IssueClosed = "closed"
)

// The kinds of issue event, i.e. what an outbox row asks the tracker to do.
const (
	IssueEventOpen       = "open"       // file the issue
	IssueEventComment    = "comment"    // comment on it (a recurrence)
	IssueEventClose      = "close"      // comment on it and close it
	IssueEventResolution = "resolution" // comment on it; it stays open
)

// The states of an issue event.
const (
	IssueEventPending = "pending" // recorded; the tracker call may or may not have happened
	IssueEventDone    = "done"    // the tracker call succeeded and its result is recorded
)

// CloseSuperseded is the close reason of an open issue replaced by a new one on another
// tracker (the collection's tracker changed while the failure was open).
const CloseSuperseded = "superseded"

// maxErrorBytes bounds issue_events.last_error.
const maxErrorBytes = 2000

// Issue is one issue Crest files (or is filing) for a root cause.
type Issue struct {
	ID          int64  `json:"id"`
	Collection  string `json:"collection"`
	Fingerprint string `json:"fingerprint"`
	Package     string `json:"package"`
	Tracker     string `json:"tracker"`          // the tracker's Name
	Repo        string `json:"repo,omitempty"`   // the tracker's Ref.Repo
	Number      int64  `json:"number,omitempty"` // 0 until the tracker has filed it
	URL         string `json:"url,omitempty"`
	State       string `json:"state"`                  // IssueOpen or IssueClosed
	CloseReason string `json:"close_reason,omitempty"` // completed, not_planned, superseded
	// Resolution is the last resolution written to the issue (fixed, wont-fix, cant-fix,
	// marked-broken); empty while there is none.
	Resolution string `json:"resolution,omitempty"`
	Title      string `json:"title"`
	// FirstMajor/FirstMinor is the minor wave the failure was first seen in, and
	// LastMajor/LastMinor the latest.
	FirstMajor int `json:"first_major"`
	FirstMinor int `json:"first_minor"`
	LastMajor  int `json:"last_major"`
	LastMinor  int `json:"last_minor"`
	// Comments counts the issue's comments: all of them for the local tracker, Crest's
	// for the others.
	Comments  int       `json:"comments"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	// TagPrefix is the collection's tag prefix, which names its waves ("" for the default).
	TagPrefix string `json:"tag_prefix,omitempty"`
}

// FirstWave names the minor wave the failure was first seen in: "wave-3-1".
func (i Issue) FirstWave() string { return wavename.Minor(i.TagPrefix, i.FirstMajor, i.FirstMinor) }

// LastWave names the latest minor wave the failure was seen in.
func (i Issue) LastWave() string { return wavename.Minor(i.TagPrefix, i.LastMajor, i.LastMinor) }

// IssueEvent is one outbox row: something Crest writes to an issue, exactly once.
type IssueEvent struct {
	ID      int64  `json:"id"`
	Key     string `json:"key"` // <collection>/<fingerprint>/<prefix>-N-M/<event>[/<attempt>]
	IssueID int64  `json:"issue_id"`
	Kind    string `json:"kind"`  // IssueEventOpen, …Comment, …Close, …Resolution
	Event   string `json:"event"` // open, recurred, fixed, wont-fix, cant-fix, marked-broken
	Major   int    `json:"major"` // the minor wave the event happened in
	Minor   int    `json:"minor"`
	Attempt int    `json:"attempt,omitempty"`
	// CommentKey is the key the tracker dedupes the comment by; empty for an open.
	CommentKey string `json:"comment_key,omitempty"`
	// Title, Body, Labels and Assignees are the rendered payload: the issue for an open,
	// the comment (Body) otherwise.
	Title     string   `json:"title,omitempty"`
	Body      string   `json:"body,omitempty"`
	Labels    []string `json:"labels,omitempty"`
	Assignees []string `json:"assignees,omitempty"`
	// CloseReason is the tracker close reason of a close (completed, not_planned).
	CloseReason string    `json:"close_reason,omitempty"`
	State       string    `json:"state"`    // IssueEventPending or IssueEventDone
	Attempts    int       `json:"attempts"` // tracker calls made for it
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	DoneAt      time.Time `json:"done_at,omitzero"`
}

// TrackerRef is where a tracker filed an issue.
type TrackerRef struct {
	Repo   string
	Number int64
	URL    string
}

// IssueFilter selects issues; zero fields match everything.
type IssueFilter struct {
	Collection  string
	Package     string
	Fingerprint string
	State       string // IssueOpen, IssueClosed or "" for both
	Tracker     string
	Number      int64
}

const issueColumns = `i.id, c.name, i.fingerprint, i.package, i.tracker, i.repo, coalesce(i.number, 0), i.url,
	i.state, i.close_reason, i.resolution, i.title, i.first_major, i.first_minor, i.last_major, i.last_minor,
	(CASE WHEN i.tracker = '` + LocalTracker + `' AND i.number IS NOT NULL
		THEN (SELECT count(*) FROM local_issue_comments lc WHERE lc.issue = i.number)
		ELSE (SELECT count(*) FROM issue_events e WHERE e.issue_id = i.id AND e.state = 'done' AND e.kind <> 'open')
	END)::int,
	i.created_at, i.updated_at, i.closed_at, ` + tagPrefixColumn + `
	FROM issues i JOIN collections c ON c.id = i.collection_id`

func scanIssue(row pgx.Row) (Issue, error) {
	var i Issue
	var closed *time.Time
	err := row.Scan(&i.ID, &i.Collection, &i.Fingerprint, &i.Package, &i.Tracker, &i.Repo, &i.Number, &i.URL,
		&i.State, &i.CloseReason, &i.Resolution, &i.Title, &i.FirstMajor, &i.FirstMinor, &i.LastMajor, &i.LastMinor,
		&i.Comments, &i.CreatedAt, &i.UpdatedAt, &closed, &i.TagPrefix)
	if closed != nil {
		i.ClosedAt = *closed
	}
	return i, err
}

// IssueByID returns an issue.
func (s *Store) IssueByID(ctx context.Context, id int64) (Issue, error) {
	i, err := scanIssue(s.pool.QueryRow(ctx, `SELECT `+issueColumns+` WHERE i.id = $1`, id))
	if err != nil {
		return i, notFound(err, fmt.Sprintf("issue %d", id))
	}
	return i, nil
}

// Issues lists the issues f selects, oldest first.
func (s *Store) Issues(ctx context.Context, f IssueFilter) ([]Issue, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+issueColumns+`
		WHERE ($1 = '' OR c.name = $1) AND ($2 = '' OR i.package = $2) AND ($3 = '' OR i.fingerprint = $3)
		  AND ($4 = '' OR i.state = $4) AND ($5 = '' OR i.tracker = $5) AND ($6::bigint = 0 OR i.number = $6::bigint)
		ORDER BY i.id`, f.Collection, f.Package, f.Fingerprint, f.State, f.Tracker, f.Number)
	if err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	defer rows.Close()
	var out []Issue
	for rows.Next() {
		i, err := scanIssue(rows)
		if err != nil {
			return nil, fmt.Errorf("list issues: %w", err)
		}
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	return out, nil
}

const eventColumns = `id, key, issue_id, kind, event, major, minor, attempt, comment_key, title, body, labels,
	assignees, close_reason, state, attempts, last_error, created_at, done_at FROM issue_events`

func scanEvent(row pgx.Row) (IssueEvent, error) {
	var e IssueEvent
	var done *time.Time
	err := row.Scan(&e.ID, &e.Key, &e.IssueID, &e.Kind, &e.Event, &e.Major, &e.Minor, &e.Attempt, &e.CommentKey,
		&e.Title, &e.Body, &e.Labels, &e.Assignees, &e.CloseReason, &e.State, &e.Attempts, &e.LastError,
		&e.CreatedAt, &done)
	if done != nil {
		e.DoneAt = *done
	}
	return e, err
}

// IssueEventByKey returns the outbox row recorded under key.
func (s *Store) IssueEventByKey(ctx context.Context, key string) (IssueEvent, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` WHERE key = $1`, key))
	if err != nil {
		return e, notFound(err, "issue event "+key)
	}
	return e, nil
}

// IssueOpenEvent returns the event that files the issue.
func (s *Store) IssueOpenEvent(ctx context.Context, issueID int64) (IssueEvent, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+`
		WHERE issue_id = $1 AND kind = 'open' ORDER BY id LIMIT 1`, issueID))
	if err != nil {
		return e, notFound(err, fmt.Sprintf("open event of issue %d", issueID))
	}
	return e, nil
}

// IssueEvents lists the events of an issue, oldest first.
func (s *Store) IssueEvents(ctx context.Context, issueID int64) ([]IssueEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` WHERE issue_id = $1 ORDER BY id`, issueID)
	if err != nil {
		return nil, fmt.Errorf("events of issue %d: %w", issueID, err)
	}
	defer rows.Close()
	var out []IssueEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events of issue %d: %w", issueID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of issue %d: %w", issueID, err)
	}
	return out, nil
}

// RootCauseRecord asks RecordRootCause to file the issue of a root cause seen in a minor
// wave, or to comment on its open issue.
type RootCauseRecord struct {
	Collection  string
	Fingerprint string
	Package     string
	Tracker     string    // the Name of the tracker that files it
	Title       string    // of a new issue
	At          time.Time // now
	// Open is recorded with a new issue when the fingerprint has no open issue (on this
	// tracker); Recur is recorded on the open issue otherwise. Each carries its outbox
	// Key, wave and payload; Kind defaults to open and comment.
	Open, Recur IssueEvent
}

// RecordRootCause records, in one transaction, the event of a root cause: when Open.Key or
// Recur.Key is recorded already (a retry), that event and its issue, unchanged; else, when
// the fingerprint has an open issue, Recur on it (and the issue's last wave moves up);
// else a new open issue with Open. An open issue on another tracker is closed as
// superseded and replaced. The collection must exist.
func (s *Store) RecordRootCause(ctx context.Context, r RootCauseRecord) (Issue, IssueEvent, error) {
	if r.Open.Kind == "" {
		r.Open.Kind = IssueEventOpen
	}
	if r.Recur.Kind == "" {
		r.Recur.Kind = IssueEventComment
	}
	at := orNow(r.At)
	var ev IssueEvent
	err := s.retryUnique(ctx, func(tx pgx.Tx) error {
		var err error
		if ev, err = eventByKeys(ctx, tx, r.Open.Key, r.Recur.Key); !errors.Is(err, ErrNotFound) {
			return err
		}
		var colID int64
		if err := tx.QueryRow(ctx, `SELECT id FROM collections WHERE name = $1`, r.Collection).Scan(&colID); err != nil {
			return notFound(err, "collection "+r.Collection)
		}
		var issueID int64
		var onTracker string
		err = tx.QueryRow(ctx, `SELECT id, tracker FROM issues
			WHERE collection_id = $1 AND fingerprint = $2 AND state = 'open' FOR UPDATE`,
			colID, r.Fingerprint).Scan(&issueID, &onTracker)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			// A concurrent recorder of this root cause may have filed the issue (with
			// Open) since the lookup above; holding the issue's lock, look again.
			if ev, err = eventByKeys(ctx, tx, r.Open.Key, r.Recur.Key); !errors.Is(err, ErrNotFound) {
				return err
			}
			if onTracker == r.Tracker {
				if _, err := tx.Exec(ctx, `UPDATE issues SET updated_at = $4,
					last_major = CASE WHEN (last_major, last_minor) < ($2, $3) THEN $2 ELSE last_major END,
					last_minor = CASE WHEN (last_major, last_minor) < ($2, $3) THEN $3 ELSE last_minor END
					WHERE id = $1`, issueID, r.Recur.Major, r.Recur.Minor, at); err != nil {
					return err
				}
				ev, err = insertEvent(ctx, tx, issueID, r.Recur, at)
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE issues SET state = 'closed', close_reason = $2, closed_at = $3, updated_at = $3
				WHERE id = $1`, issueID, CloseSuperseded, at); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO issues (collection_id, fingerprint, package, tracker, title,
				first_major, first_minor, last_major, last_minor, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7, $8, $8) RETURNING id`,
			colID, r.Fingerprint, r.Package, r.Tracker, r.Title, r.Open.Major, r.Open.Minor, at).Scan(&issueID); err != nil {
			return err
		}
		ev, err = insertEvent(ctx, tx, issueID, r.Open, at)
		return err
	})
	if err != nil {
		return Issue{}, IssueEvent{}, fmt.Errorf("record root cause %s of %s: %w", r.Fingerprint, r.Package, err)
	}
	is, err := s.IssueByID(ctx, ev.IssueID)
	return is, ev, err
}

// RecordIssueEvent records ev, in one transaction, on the open issue of fingerprint in
// collection, unless ev.Key is recorded already: then it returns that event and its issue,
// unchanged. ErrNotFound when the fingerprint has no open issue.
func (s *Store) RecordIssueEvent(ctx context.Context, collection, fingerprint string, ev IssueEvent, at time.Time) (Issue, IssueEvent, error) {
	at = orNow(at)
	var out IssueEvent
	err := s.retryUnique(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = eventByKeys(ctx, tx, ev.Key); !errors.Is(err, ErrNotFound) {
			return err
		}
		var issueID int64
		err = tx.QueryRow(ctx, `SELECT i.id FROM issues i JOIN collections c ON c.id = i.collection_id
			WHERE c.name = $1 AND i.fingerprint = $2 AND i.state = 'open' FOR UPDATE OF i`,
			collection, fingerprint).Scan(&issueID)
		if err != nil {
			return notFound(err, fmt.Sprintf("open issue of %s in %s", fingerprint, collection))
		}
		out, err = insertEvent(ctx, tx, issueID, ev, at)
		return err
	})
	if err != nil {
		return Issue{}, IssueEvent{}, fmt.Errorf("record issue event %s: %w", ev.Key, err)
	}
	is, err := s.IssueByID(ctx, out.IssueID)
	return is, out, err
}

// CompleteIssueEvent records, in one transaction, that the tracker did what the event
// asked: an open sets where the issue was filed (ref), a close closes the issue with the
// event's reason and resolution, a resolution records the resolution; the event is done.
// Completing a done event changes nothing.
func (s *Store) CompleteIssueEvent(ctx context.Context, key string, ref TrackerRef, at time.Time) (Issue, IssueEvent, error) {
	at = orNow(at)
	var ev IssueEvent
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		ev, err = scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` WHERE key = $1 FOR UPDATE`, key))
		if err != nil {
			return notFound(err, "issue event "+key)
		}
		if ev.State == IssueEventDone {
			return nil
		}
		switch ev.Kind {
		case IssueEventOpen:
			_, err = tx.Exec(ctx, `UPDATE issues SET repo = $2, number = $3, url = $4, updated_at = $5 WHERE id = $1`,
				ev.IssueID, ref.Repo, ref.Number, ref.URL, at)
		case IssueEventClose:
			_, err = tx.Exec(ctx, `UPDATE issues SET state = 'closed', close_reason = $2, resolution = $3,
				closed_at = $4, updated_at = $4 WHERE id = $1 AND state = 'open'`, ev.IssueID, ev.CloseReason, ev.Event, at)
		case IssueEventResolution:
			_, err = tx.Exec(ctx, `UPDATE issues SET resolution = $2, updated_at = $3 WHERE id = $1`, ev.IssueID, ev.Event, at)
		default:
			_, err = tx.Exec(ctx, `UPDATE issues SET updated_at = $2 WHERE id = $1`, ev.IssueID, at)
		}
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `UPDATE issue_events SET state = 'done', attempts = attempts + 1, last_error = '', done_at = $2
			WHERE id = $1 RETURNING state, attempts, last_error, done_at`, ev.ID, at).
			Scan(&ev.State, &ev.Attempts, &ev.LastError, &ev.DoneAt)
		return err
	})
	if err != nil {
		return Issue{}, IssueEvent{}, fmt.Errorf("complete issue event %s: %w", key, err)
	}
	is, err := s.IssueByID(ctx, ev.IssueID)
	return is, ev, err
}

// FailIssueEvent counts a failed tracker call for a pending event and keeps its message,
// which must be free of secrets (tracker errors are).
func (s *Store) FailIssueEvent(ctx context.Context, key, message string) error {
	_, err := s.pool.Exec(ctx, `UPDATE issue_events SET attempts = attempts + 1, last_error = $2
		WHERE key = $1 AND state = 'pending'`, key, truncate(message, maxErrorBytes))
	if err != nil {
		return fmt.Errorf("fail issue event %s: %w", key, err)
	}
	return nil
}

// retryUnique runs fn in a transaction, again (twice at most) when it lost a race on a
// unique index to a concurrent writer: the next run sees that writer's rows.
func (s *Store) retryUnique(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.InTx(ctx, fn)
		if err == nil || !isUniqueViolation(err) || attempt == 2 {
			return err
		}
	}
}

// eventByKeys returns the first recorded of the events keys name; ErrNotFound if none is.
func eventByKeys(ctx context.Context, tx pgx.Tx, keys ...string) (IssueEvent, error) {
	ev, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` WHERE key = ANY($1) ORDER BY id LIMIT 1`, keys))
	if err != nil {
		return ev, notFound(err, "issue event")
	}
	return ev, nil
}

func insertEvent(ctx context.Context, tx pgx.Tx, issueID int64, e IssueEvent, at time.Time) (IssueEvent, error) {
	e.IssueID, e.State, e.CreatedAt = issueID, IssueEventPending, at
	e.Labels, e.Assignees = nonNil(e.Labels), nonNil(e.Assignees)
	err := tx.QueryRow(ctx, `INSERT INTO issue_events (key, issue_id, kind, event, major, minor, attempt, comment_key,
			title, body, labels, assignees, close_reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		e.Key, issueID, e.Kind, e.Event, e.Major, e.Minor, e.Attempt, e.CommentKey,
		e.Title, e.Body, e.Labels, e.Assignees, e.CloseReason, at).Scan(&e.ID)
	return e, err
}

// LocalIssue is an issue of the local tracker.
type LocalIssue struct {
	Number      int64     `json:"number"`
	Repo        string    `json:"repo,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	Labels      []string  `json:"labels,omitempty"`
	Assignees   []string  `json:"assignees,omitempty"`
	State       string    `json:"state"`                  // IssueOpen or IssueClosed
	CloseReason string    `json:"close_reason,omitempty"` // completed, not_planned
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	// Comments counts every comment; LastExternalComment is when the newest comment
	// without a key (a person's) was made. Both are filled by reads.
	Comments            int       `json:"comments"`
	LastExternalComment time.Time `json:"last_external_comment,omitzero"`
}

// LocalComment is a comment on a local issue.
type LocalComment struct {
	ID        int64     `json:"id"`
	Issue     int64     `json:"issue"`         // the issue's number
	Key       string    `json:"key,omitempty"` // Crest's dedupe key; empty for a person's comment
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// OpenLocalIssue files is (Repo, Fingerprint, Title, Body, Labels, Assignees; CreatedAt,
// or now) unless an open issue of the fingerprint exists in the repo, and returns the
// issue and whether it filed it.
func (s *Store) OpenLocalIssue(ctx context.Context, is LocalIssue) (LocalIssue, bool, error) {
	at := orNow(is.CreatedAt)
	var number int64
	var created bool
	err := s.retryUnique(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT number FROM local_issues WHERE repo = $1 AND fingerprint = $2 AND state = 'open'`,
			is.Repo, is.Fingerprint).Scan(&number)
		if !errors.Is(err, pgx.ErrNoRows) {
			created = false
			return err
		}
		created = true
		return tx.QueryRow(ctx, `INSERT INTO local_issues (repo, fingerprint, title, body, labels, assignees, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING number`,
			is.Repo, is.Fingerprint, is.Title, is.Body, nonNil(is.Labels), nonNil(is.Assignees), at).Scan(&number)
	})
	if err != nil {
		return LocalIssue{}, false, fmt.Errorf("open local issue %s: %w", is.Fingerprint, err)
	}
	out, err := s.LocalIssue(ctx, number)
	return out, created, err
}

const localIssueColumns = `number, repo, fingerprint, title, body, labels, assignees, state, close_reason,
	created_at, updated_at, closed_at,
	(SELECT count(*) FROM local_issue_comments c WHERE c.issue = li.number)::int,
	(SELECT max(created_at) FROM local_issue_comments c WHERE c.issue = li.number AND c.key IS NULL)
	FROM local_issues li`

func scanLocalIssue(row pgx.Row) (LocalIssue, error) {
	var is LocalIssue
	var closed, lastExternal *time.Time
	err := row.Scan(&is.Number, &is.Repo, &is.Fingerprint, &is.Title, &is.Body, &is.Labels, &is.Assignees, &is.State,
		&is.CloseReason, &is.CreatedAt, &is.UpdatedAt, &closed, &is.Comments, &lastExternal)
	if closed != nil {
		is.ClosedAt = *closed
	}
	if lastExternal != nil {
		is.LastExternalComment = *lastExternal
	}
	return is, err
}

// LocalIssue returns local issue number with its comment counts.
func (s *Store) LocalIssue(ctx context.Context, number int64) (LocalIssue, error) {
	is, err := scanLocalIssue(s.pool.QueryRow(ctx, `SELECT `+localIssueColumns+` WHERE number = $1`, number))
	if err != nil {
		return LocalIssue{}, notFound(err, fmt.Sprintf("local issue %d", number))
	}
	return is, nil
}

// LocalIssues lists the local issues of repo, by number, with their comment counts.
func (s *Store) LocalIssues(ctx context.Context, repo string) ([]LocalIssue, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+localIssueColumns+` WHERE repo = $1 ORDER BY number`, repo)
	if err != nil {
		return nil, fmt.Errorf("local issues of %q: %w", repo, err)
	}
	defer rows.Close()
	var out []LocalIssue
	for rows.Next() {
		is, err := scanLocalIssue(rows)
		if err != nil {
			return nil, fmt.Errorf("local issues of %q: %w", repo, err)
		}
		out = append(out, is)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("local issues of %q: %w", repo, err)
	}
	return out, nil
}

// LocalComments lists the comments of local issue number, oldest first.
func (s *Store) LocalComments(ctx context.Context, number int64) ([]LocalComment, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, issue, coalesce(key, ''), author, body, created_at
		FROM local_issue_comments WHERE issue = $1 ORDER BY created_at, id`, number)
	if err != nil {
		return nil, fmt.Errorf("comments of local issue %d: %w", number, err)
	}
	var out []LocalComment
	var c LocalComment
	_, err = pgx.ForEachRow(rows, []any{&c.ID, &c.Issue, &c.Key, &c.Author, &c.Body, &c.CreatedAt}, func() error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("comments of local issue %d: %w", number, err)
	}
	return out, nil
}

// AddLocalComment adds c (Issue, Key, Author, Body; CreatedAt, or now) to local issue
// c.Issue of repo, unless a comment with c.Key is there already (an empty Key, a person's
// comment, is always added). It reports whether it added; ErrNotFound when repo has no
// such issue.
func (s *Store) AddLocalComment(ctx context.Context, repo string, c LocalComment) (bool, error) {
	var added bool
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockLocalIssue(ctx, tx, repo, c.Issue); err != nil {
			return err
		}
		var err error
		added, err = addLocalComment(ctx, tx, c)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("comment on local issue %d: %w", c.Issue, err)
	}
	return added, nil
}

// CloseLocalIssue closes local issue number of repo with reason, after adding c as
// AddLocalComment does when c.Body is not empty, in one transaction. Closing a closed
// issue adds the comment (unless its key is there) and keeps the first close.
func (s *Store) CloseLocalIssue(ctx context.Context, repo string, number int64, reason string, c LocalComment) error {
	at := orNow(c.CreatedAt)
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockLocalIssue(ctx, tx, repo, number); err != nil {
			return err
		}
		if c.Body != "" {
			c.Issue, c.CreatedAt = number, at
			if _, err := addLocalComment(ctx, tx, c); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE local_issues SET state = 'closed', close_reason = $2, closed_at = $3, updated_at = $3
			WHERE number = $1 AND state = 'open'`, number, reason, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("close local issue %d: %w", number, err)
	}
	return nil
}

func lockLocalIssue(ctx context.Context, tx pgx.Tx, repo string, number int64) error {
	var n int64
	err := tx.QueryRow(ctx, `SELECT number FROM local_issues WHERE number = $1 AND repo = $2 FOR UPDATE`, number, repo).Scan(&n)
	if err != nil {
		return notFound(err, fmt.Sprintf("local issue %d", number))
	}
	return nil
}

func addLocalComment(ctx context.Context, tx pgx.Tx, c LocalComment) (bool, error) {
	at := orNow(c.CreatedAt)
	var key any
	if c.Key != "" {
		key = c.Key
	}
	tag, err := tx.Exec(ctx, `INSERT INTO local_issue_comments (issue, key, author, body, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issue, key) DO NOTHING`, c.Issue, key, c.Author, c.Body, at)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	_, err = tx.Exec(ctx, `UPDATE local_issues SET updated_at = $2 WHERE number = $1`, c.Issue, at)
	return err == nil, err
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func nonNil[T any](ss []T) []T {
	if ss == nil {
		return []T{}
	}
	return ss
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
