package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/workflows"
)

func newQueueCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Submit approved changes to a branch's merge queue and follow them",
		Long: `Each collection branch has one merge queue, a MergeQueue workflow (ID
<collection>/queue/<branch>), started by the first submission. A change is laned by its
rebuild set (fast, wave or priority), batched into a candidate commit, built, and the
branch fast-forwarded to exactly that commit when it is green; a red batch is bisected by
building only the failed packages, and the culprit ejected with its evidence.

GitHub pull requests come in through the queue's intake (a QueueIntake workflow,
configured by queue.github): approved ones with the label are submitted at their head,
and their results go back as a comment and a commit status.`,
	}
	pf := cmd.PersistentFlags()
	pf.String("collection", "", "collection (default: the only one registered)")
	pf.String("branch", "", "target branch (default: the collection's main branch)")
	cmd.AddCommand(newQueueSubmitCmd(a), newQueueListCmd(a), newQueueStatusCmd(a), newQueueWithdrawCmd(a), newQueueStatsCmd(a))
	return cmd
}

// queueBranch is the target branch of a queue command: --branch, or the collection's main
// branch.
func queueBranch(ctx context.Context, cmd *cobra.Command, s *session) (string, error) {
	if b, _ := cmd.Flags().GetString("branch"); b != "" {
		return b, nil
	}
	row, err := s.st.CollectionByName(ctx, s.collection)
	if err != nil {
		return "", err
	}
	var col wire.Collection
	if err := json.Unmarshal(row.Settings, &col); err != nil {
		return "", fmt.Errorf("settings of collection %s: %w", s.collection, err)
	}
	if col.MainBranch == "" {
		return "main", nil
	}
	return col.MainBranch, nil
}

func newQueueSubmitCmd(a *app) *cobra.Command {
	var ref, title, by, settings string
	var labels []string
	cmd := &cobra.Command{
		Use:   "submit --ref REF --title TEXT [--label security]",
		Short: "Submit an approved change (a branch, tag or commit) to the merge queue",
		Example: `  crest queue submit --ref fix/calc-precision --title "calc: print 3 decimals"
  crest queue submit --ref fix/libhttp-libnet-2 --title "libhttp: net_dial" --label security`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(ref) == "" {
				return errors.New("--ref is required: the branch, tag or commit of the change")
			}
			return a.withSession(cmd, true, func(s *session) error {
				ctx := cmd.Context()
				branch, err := queueBranch(ctx, cmd, s)
				if err != nil {
					return err
				}
				qc := queueClient(a.cfg, s.c)
				if settings != "" {
					qc.Settings = json.RawMessage(settings)
				}
				res, err := qc.SubmitChange(ctx, s.collection, branch, "", "", workflows.SubmitRequest{Ref: ref, Title: title, Labels: labels, By: whoami(by)})
				if errors.Is(err, wire.ErrRefused) {
					return fmt.Errorf("submit %s refused: %w", ref, err)
				} else if err != nil {
					return fmt.Errorf("submit %s: %w", ref, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "change %d queued for %s of %s (%s at %.12s)\nfollow it: crest queue status %d\n",
					res.ID, branch, s.collection, ref, res.Commit, res.ID)
				if a.cfg.Tracker.Kind == local.Name {
					// The queue's intake reports results; with the local tracker (crest dev) a
					// local issue follows the change.
					if _, err := qc.StartIntake(ctx, workflows.QueueIntakeInput{Collection: s.collection, Branch: branch,
						Every: workflows.Duration(a.cfg.Queue.GitHub.PollInterval)}); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "ref", "", "the change: a branch, tag or commit of the collection's repository")
	f.StringVar(&title, "title", "", "what the change does")
	f.StringArrayVar(&labels, "label", nil, "a label (repeatable); security puts it in the priority lane")
	f.StringVar(&by, "by", "", "who submits (default: $USER)")
	f.StringVar(&settings, "queue-settings", "", `the queue's settings when this starts it (JSON policy.QueueSettings, e.g. {"max_wait": "5m"})`)
	return cmd
}

func newQueueListCmd(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List the changes of a merge queue (waiting and in flight; --all: every one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				branch, _ := cmd.Flags().GetString("branch")
				var states []string
				if !all {
					states = []string{store.QueueQueued, store.QueueBatched}
				}
				cs, err := s.st.QueueChanges(cmd.Context(), s.collection, branch, states...)
				if err != nil {
					return err
				}
				w := newTable(cmd.OutOrStdout(), "ID\tBRANCH\tSTATE\tLANE\tREF\tTITLE\tAGE\tWHY")
				for _, c := range cs {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Branch, c.State, dash(c.Lane), c.Ref, dash(c.Title),
						time.Since(c.SubmittedAt).Round(time.Second), shortReason(dash(c.Reason)))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "merged, ejected, withdrawn and handed-off changes too")
	return cmd
}

func newQueueStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status [ID]",
		Short: "Where the queue stands (the workflow's Status), or one change with its evidence",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := a.session(cmd, len(args) == 0)
			if err != nil {
				return err
			}
			defer done()
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("change %q: want its number (crest queue list)", args[0])
				}
				c, err := s.st.QueueChange(ctx, id)
				if err != nil {
					return err
				}
				return printChange(out, c)
			}
			branch, err := queueBranch(ctx, cmd, s)
			if err != nil {
				return err
			}
			v, err := s.c.QueryWorkflow(ctx, workflows.QueueWorkflowID(s.collection, branch), "", workflows.QueryStatus)
			if err != nil {
				return fmt.Errorf("queue of %s: %w (is it started? crest queue submit starts it)", branch, err)
			}
			var st workflows.QueueStatus
			if err := v.Get(&st); err != nil {
				return err
			}
			fmt.Fprintf(out, "queue of %s/%s: head %.12s, window %d; merged %d, ejected %d, handed to a wave %d\n",
				st.Collection, st.Branch, dash(st.Head), st.Window.Size, st.Merged, st.Ejected, st.Handed)
			if b := st.Building; b != nil {
				fmt.Fprintf(out, "%s: %s lane, changes %v, candidate %.12s, %s", b.Key, b.Lane, b.Changes, dash(b.Candidate), b.Phase)
				if b.Round > 0 {
					fmt.Fprintf(out, " (round %d)", b.Round)
				}
				fmt.Fprintln(out)
			}
			if b := st.Wave; b != nil {
				fmt.Fprintf(out, "%s: wave lane, changes %v, %s\n", b.Key, b.Changes, b.Phase)
			}
			for _, u := range st.WaveReady {
				fmt.Fprintf(out, "%s: wave lane, changes %v, built aside: merged as one unit next\n", u.Key, u.ChangeIDs())
			}
			fmt.Fprintf(out, "why: %s\n", dash(st.Why))
			w := newTable(out, "ID\tLANE\tREF\tSUBMITTED")
			for _, c := range st.Waiting {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", c.ID, dash(string(c.Lane)), c.Ref, c.Submitted.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
}

// printChange shows one change with its timestamps and, when ejected, its evidence.
func printChange(out io.Writer, c store.QueueChange) error {
	fmt.Fprintf(out, "change %d: %s → %s of %s (%.12s)\n  title: %s\n  state: %s: %s\n  lane:  %s: %s\n",
		c.ID, c.Ref, c.Branch, c.Collection, c.Commit, dash(c.Title), c.State, dash(c.Reason), dash(c.Lane), dash(c.LaneReason))
	if c.PullNumber > 0 {
		fmt.Fprintf(out, "  pull request: %s#%d %s\n", c.PullRepo, c.PullNumber, c.PullURL)
	}
	switch {
	case c.ReportError != "":
		fmt.Fprintf(out, "  reported: %s; the next report failed %d time(s): %s\n", dash(c.Reported), c.ReportAttempts, c.ReportError)
	case c.Reported != "":
		fmt.Fprintf(out, "  reported: %s\n", c.Reported)
	}
	if c.ReportIssue > 0 {
		fmt.Fprintf(out, "  followed in local issue #%d (crest issues show %d)\n", c.ReportIssue, c.ReportIssue)
	}
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"batched", c.BatchedAt}, {"built", c.BuiltAt}, {"merged", c.MergedAt}, {"ejected", c.EjectedAt}} {
		if t.at != nil {
			fmt.Fprintf(out, "  %-8s %s (+%s)\n", t.name+":", t.at.Format(time.RFC3339), t.at.Sub(c.SubmittedAt).Round(time.Second))
		}
	}
	if len(c.Evidence) > 0 {
		var pretty strings.Builder
		var v any
		if err := json.Unmarshal(c.Evidence, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(&pretty)
		enc.SetIndent("  ", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		fmt.Fprintf(out, "  evidence: %s", pretty.String())
	}
	return nil
}

func newQueueWithdrawCmd(a *app) *cobra.Command {
	var reason, by string
	cmd := &cobra.Command{
		Use:   "withdraw ID [--reason TEXT]",
		Short: "Take a waiting change out of the merge queue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("change %q: want its number (crest queue list)", args[0])
			}
			return a.withSession(cmd, true, func(s *session) error {
				ctx := cmd.Context()
				c, err := s.st.QueueChange(ctx, id)
				if err != nil {
					return err
				}
				if err := queueClient(a.cfg, s.c).Withdraw(ctx, c.Collection, c.Branch, "", id, reason, whoami(by)); err != nil {
					return fmt.Errorf("withdraw change %d: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "change %d withdrawn\n", id)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record")
	cmd.Flags().StringVar(&by, "by", "", "who withdraws (default: $USER)")
	return cmd
}

func newQueueStatsCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "stats [--format table|json]",
		Short: "Latency from submission to merge per lane (p50/p95/p99), builds per merged change, ejections",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				branch, _ := cmd.Flags().GetString("branch")
				st, err := s.st.QueueStatsOf(cmd.Context(), s.collection, branch)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				switch format {
				case "json":
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				case "table", "":
				default:
					return fmt.Errorf("--format %q: want table or json", format)
				}
				w := newTable(out, "LANE\tMERGED\tEJECTED\tWAITING\tTO WAVE\tP50\tP95\tP99")
				secs := func(f float64) string { return (time.Duration(f * float64(time.Second))).Round(time.Second).String() }
				for _, l := range st.Lanes {
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", l.Lane, l.Merged, l.Ejected, l.Waiting, l.Handed, secs(l.P50), secs(l.P95), secs(l.P99))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(out, "builds: %d (candidates %d, probes %d: probe cost %.2f of candidate builds); %d answered by the store or the cache\n",
					st.Builds, st.CandidateBuilds, st.ProbeBuilds, st.ProbeCost, st.CacheHits)
				fmt.Fprintf(out, "builds per merged change: %.2f (%d builds over the %d packages of the merged changes' own rebuild sets); %.2f without the cache hits\n",
					st.BuildsPerMerged, st.Builds, st.OwnRebuilds, st.PerformedPerMerged)
				if len(st.Flaky) == 0 {
					fmt.Fprintln(out, "flaky packages: none (no candidate failure passed on a rebuild)")
					return nil
				}
				fmt.Fprintln(out, "flaky packages (failed in a candidate, passed on a rebuild of the same derivation):")
				w = newTable(out, "PACKAGE\tSYSTEM\tTIMES\tLAST SEEN\tLAST BATCH")
				for _, f := range st.Flaky {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\n", f.Package, f.System, f.Times, f.LastSeen.UTC().Format(time.RFC3339), f.LastBatch)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}
