package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/local"
)

func newIssuesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issues",
		Short: "List and read the issues Crest filed; comment on local issues as a maintainer",
		Long: `Crest files one issue per root cause (a failed package whose dependencies all built) in
the collection's issue tracker, and comments on it when the failure recurs or is resolved.
These commands read what Crest recorded in Postgres. Under crest dev the tracker is local:
issues live in the database, and 'crest issues comment' plays a maintainer's answer.`,
	}
	cmd.AddCommand(newIssuesListCmd(a), newIssuesShowCmd(a), newIssuesCommentCmd(a))
	return cmd
}

func newIssuesListCmd(a *app) *cobra.Command {
	var collection, state, pkg string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List issues: number, state, package, title, waves seen, comments, where to read it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.IssueFilter{Collection: collection, Package: pkg}
			switch state {
			case "open", "closed":
				f.State = state
			case "all":
			default:
				return fmt.Errorf("--state %q: want open, closed or all", state)
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			issues, err := st.Issues(cmd.Context(), f)
			if err != nil {
				return err
			}
			if len(issues) == 0 {
				cmd.Println("no issues")
				return nil
			}
			w := newTable(cmd.OutOrStdout(), "NUMBER\tSTATE\tPACKAGE\tTITLE\tWAVES\tCOMMENTS\tURL")
			for _, is := range issues {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", issueNumber(is), issueState(is), is.Package,
					clip(is.Title, 60), wavesSeen(is), is.Comments, issueWhere(is))
			}
			return w.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&collection, "collection", "", "only this collection")
	fl.StringVar(&state, "state", "open", "open, closed or all")
	fl.StringVar(&pkg, "package", "", "only this package (attribute path)")
	return cmd
}

func newIssuesShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show N",
		Short: "Show an issue: title, state, body, and its comments with authors and times",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseIssueNumber(args[0])
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if a.cfg.Tracker.Kind == local.Name {
				return showLocalIssue(cmd, st, n)
			}
			return showFiledIssue(cmd, st, a.cfg.Tracker, n)
		},
	}
}

func newIssuesCommentCmd(a *app) *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:   "comment N --as LOGIN TEXT…",
		Short: "Comment on a local issue as a maintainer (extends a grace period in crest dev)",
		Long: `Adds a comment to local issue N as the person --as names, the way a maintainer answers
on a real tracker: policy counts it as maintainer activity (a grace period is extended while
maintainers talk). Only the local tracker takes comments here; on GitHub, comment there.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.cfg.Tracker.Kind != local.Name {
				return fmt.Errorf("issue_tracker.kind is %s: comment on the issue there; crest issues comment writes to the local tracker only", a.cfg.Tracker.Kind)
			}
			n, err := parseIssueNumber(args[0])
			if err != nil {
				return err
			}
			text := strings.TrimSpace(strings.Join(args[1:], " "))
			if text == "" {
				return errors.New("empty comment")
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			is, err := st.LocalIssue(cmd.Context(), n)
			if err != nil {
				return fmt.Errorf("no local issue #%d: %w", n, err)
			}
			tr := local.New(st, local.Options{Repo: is.Repo})
			ref := tracker.Ref{Tracker: local.Name, Repo: is.Repo, Number: n}
			if err := tr.CommentAs(cmd.Context(), ref, as, text); err != nil {
				return err
			}
			cmd.Printf("%s commented on #%d (%s)\n", strings.TrimSpace(as), n, is.Title)
			return nil
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who comments: the maintainer's login (required)")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}

// showLocalIssue prints a local issue as the tracker holds it, people's comments included.
func showLocalIssue(cmd *cobra.Command, st *store.Store, n int64) error {
	ctx := cmd.Context()
	is, err := st.LocalIssue(ctx, n)
	if err != nil {
		return fmt.Errorf("no local issue #%d: %w", n, err)
	}
	comments, err := st.LocalComments(ctx, n)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	state := is.State
	if is.CloseReason != "" {
		state += ", " + is.CloseReason
	}
	fmt.Fprintf(out, "#%d %s [%s]\n", is.Number, is.Title, state)
	rows, err := st.Issues(ctx, store.IssueFilter{Tracker: local.Name, Number: n})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Repo == is.Repo {
			fmt.Fprintf(out, "collection %s · package %s · waves %s · fingerprint %s\n", r.Collection, r.Package, wavesSeen(r), r.Fingerprint)
		}
	}
	printMeta(out, "assignees", is.Assignees)
	printMeta(out, "labels", is.Labels)
	fmt.Fprintf(out, "opened %s", when(is.CreatedAt))
	if !is.ClosedAt.IsZero() {
		fmt.Fprintf(out, " · closed %s", when(is.ClosedAt))
	}
	fmt.Fprintf(out, "\n\n%s\n", strings.TrimRight(is.Body, "\n"))
	for _, c := range comments {
		printComment(out, c.Author, c.CreatedAt, c.Body)
	}
	return nil
}

// showFiledIssue prints what Crest recorded of an issue on another tracker: the text it
// filed and the comments it wrote (people's comments are on the tracker).
func showFiledIssue(cmd *cobra.Command, st *store.Store, tc TrackerConfig, n int64) error {
	ctx := cmd.Context()
	rows, err := st.Issues(ctx, store.IssueFilter{Tracker: tc.Kind, Number: n})
	if err != nil {
		return err
	}
	repo := tc.GitHub.Owner + "/" + tc.GitHub.Repo
	var is *store.Issue
	for i := range rows {
		if rows[i].Repo == repo || len(rows) == 1 {
			is = &rows[i]
		}
	}
	if is == nil {
		return fmt.Errorf("no issue #%d filed by Crest in %s %s", n, tc.Kind, repo)
	}
	events, err := st.IssueEvents(ctx, is.ID)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "#%d %s [%s]\n", is.Number, is.Title, issueState(*is))
	fmt.Fprintf(out, "%s\ncollection %s · package %s · waves %s · fingerprint %s\n", issueWhere(*is), is.Collection, is.Package, wavesSeen(*is), is.Fingerprint)
	for _, e := range events {
		if e.Kind == store.IssueEventOpen {
			fmt.Fprintf(out, "\n%s\n", strings.TrimRight(e.Body, "\n"))
		}
	}
	for _, e := range events {
		if e.Kind == store.IssueEventOpen {
			continue
		}
		at := e.DoneAt
		if e.State != store.IssueEventDone {
			at = e.CreatedAt
		}
		author := "crest"
		if e.State != store.IssueEventDone {
			author = fmt.Sprintf("crest (pending, %d attempts)", e.Attempts)
		}
		printComment(out, author, at, e.Body)
	}
	fmt.Fprintln(out, "\n(people's comments are on the tracker)")
	return nil
}

func printMeta(out io.Writer, what string, values []string) {
	if len(values) > 0 {
		fmt.Fprintf(out, "%s: %s\n", what, strings.Join(values, ", "))
	}
}

func printComment(out io.Writer, author string, at time.Time, body string) {
	fmt.Fprintf(out, "\n--- %s, %s\n%s\n", author, when(at), strings.TrimRight(body, "\n"))
}

func when(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

func parseIssueNumber(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("issue number %q: want a positive number", s)
	}
	return n, nil
}

func issueNumber(is store.Issue) string {
	if is.Number == 0 {
		return "-"
	}
	return fmt.Sprintf("#%d", is.Number)
}

func issueState(is store.Issue) string {
	switch {
	case is.Number == 0 && is.State == store.IssueOpen:
		return "not filed yet"
	case is.Resolution != "":
		return is.State + " (" + is.Resolution + ")"
	case is.CloseReason != "":
		return is.State + " (" + is.CloseReason + ")"
	default:
		return is.State
	}
}

func issueWhere(is store.Issue) string {
	switch {
	case is.URL != "":
		return is.URL
	case is.Tracker == local.Name:
		return "local"
	default:
		return is.Tracker
	}
}

func wavesSeen(is store.Issue) string {
	if is.FirstWave() == is.LastWave() {
		return is.FirstWave()
	}
	return is.FirstWave() + " … " + is.LastWave()
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
