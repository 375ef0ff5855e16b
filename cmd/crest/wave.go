package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
	"github.com/crestwaves/crest/workflows"
)

func newWaveCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wave",
		Short: "Start, follow and steer major waves",
		Long: `Waves are Temporal workflows: everything here can also be done from the Web UI.
A major wave is named <prefix>-N, its minor waves <prefix>-N-M, with the collection's
tag_prefix (default "wave": wave-3, wave-3-2); --collection picks the collection when
more than one is configured.`,
	}
	cmd.PersistentFlags().String("collection", "", "collection (default: the only one registered)")
	cmd.AddCommand(newWaveStartCmd(a), newWaveListCmd(a), newWaveStatusCmd(a), newWaveResolveCmd(a),
		newWaveRetryCmd(a), newWavePauseCmd(a, true), newWavePauseCmd(a, false), newWaveCancelCmd(a),
		newWaveAddCmd(a), newWaveChartCmd(a))
	return cmd
}

// session is what wave commands need: the store, a Temporal client and the collection.
type session struct {
	st         *store.Store
	c          client.Client
	collection string
	prefix     string // the collection's tag prefix, which names its waves
}

// name is the name of the collection's major wave n: "wave-3".
func (s *session) name(n int) string { return wavename.Major(s.prefix, n) }

func (a *app) session(cmd *cobra.Command, needTemporal bool) (*session, func(), error) {
	ctx := cmd.Context()
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	s := &session{st: st}
	closers := []func(){st.Close}
	done := func() {
		for _, c := range closers {
			c()
		}
	}
	if needTemporal {
		if s.c, err = a.dialTemporal(ctx); err != nil {
			done()
			return nil, nil, err
		}
		closers = append(closers, s.c.Close)
	}
	s.collection, _ = cmd.Flags().GetString("collection")
	cols, err := st.Collections(ctx)
	if err != nil {
		done()
		return nil, nil, err
	}
	if s.collection != "" && !slices.Contains(cols, s.collection) {
		done()
		return nil, nil, fmt.Errorf("unknown collection %q; known: %s", s.collection, strings.Join(cols, ", "))
	}
	if s.collection == "" {
		switch len(cols) {
		case 0:
			done()
			return nil, nil, errors.New("no collection is registered: configure one in crest.yaml (or run crest dev, which registers the demo)")
		case 1:
			s.collection = cols[0]
		default:
			done()
			return nil, nil, fmt.Errorf("several collections (%s): choose one with --collection", strings.Join(cols, ", "))
		}
	}
	if s.prefix, err = st.TagPrefix(ctx, s.collection); err != nil {
		done()
		return nil, nil, err
	}
	return s, done, nil
}

// waveID is the workflow ID of major wave n of a collection (wire.MajorWaveID).
func waveID(collection string, n int) string { return wire.MajorWaveID(collection, n) }

var waveNameRE = regexp.MustCompile(`^(?:[a-z][a-z0-9._]*(?:-[a-z][a-z0-9._]*)*-)?(\d+)(?:-(\d+))?$`)

// parseWave reads "wave-3" or "wave-3-2" (or "3", "3-2"), with any tag prefix.
func parseWave(s string) (major, minor int, err error) {
	m := waveNameRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("%q is not a wave name like wave-3 or wave-3-2", s)
	}
	major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		minor, _ = strconv.Atoi(m[2])
	}
	return major, minor, nil
}

func newWaveStartCmd(a *app) *cobra.Command {
	var updates, groups []string
	var title, baseRef, inputFile string
	var number int
	var wait bool
	cmd := &cobra.Command{
		Use:   "start --update PACKAGE=REF [--update …]",
		Short: "Start a major wave (the same fields as the Web UI's JSON input)",
		Example: `  crest wave start --update libcore=update/libcore-2 --update libnet=update/libnet-2 --title "libcore 2" --wait
  crest wave start --input wave.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd, true, func(s *session) error {
				ctx := cmd.Context()
				var err error
				in := workflows.MajorWaveInput{Collection: s.collection, Title: title, BaseRef: baseRef, Wave: number,
					Limits: workflows.Limits{BuildQueuePrefix: a.cfg.TaskQueues.BuildPrefix}}
				if inputFile != "" {
					b, err := os.ReadFile(inputFile)
					if err != nil {
						return err
					}
					dec := json.NewDecoder(strings.NewReader(string(b)))
					dec.DisallowUnknownFields()
					if err := dec.Decode(&in); err != nil {
						return fmt.Errorf("%s: %w", inputFile, err)
					}
					if in.Collection == "" {
						in.Collection = s.collection
					}
				}
				for _, u := range updates {
					pkg, ref, ok := strings.Cut(u, "=")
					if !ok || pkg == "" || ref == "" {
						return fmt.Errorf("--update %q: want PACKAGE=REF", u)
					}
					in.Updates = append(in.Updates, wire.Update{Package: pkg, Ref: ref})
				}
				for _, g := range groups {
					in.Groups = append(in.Groups, strings.Split(g, ","))
				}
				if len(in.Updates) == 0 {
					return errors.New("nothing to update: give --update PACKAGE=REF (or --input FILE)")
				}
				for _, u := range in.Updates {
					// Refused here, before the input reaches the workflow's history.
					if err := wire.CheckNoCredentials(u.Repo); err != nil {
						return fmt.Errorf("update %s: %w", u.Package, err)
					}
				}
				if in.Wave == 0 {
					if in.Wave, err = s.st.NextWaveNumber(ctx, in.Collection); err != nil {
						return err
					}
				}
				if in.Collection != s.collection { // the input file's
					if s.prefix, err = s.st.TagPrefix(ctx, in.Collection); err != nil {
						return err
					}
				}
				id, name := waveID(in.Collection, in.Wave), s.name(in.Wave)
				run, err := startWave(ctx, s.c, client.StartWorkflowOptions{
					ID: id, TaskQueue: a.cfg.TaskQueues.Default,
					TypedSearchAttributes: waveAttributes(in.Collection, name),
				}, in)
				if err != nil {
					return fmt.Errorf("%s of %s refused: %w", name, in.Collection, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "started %s of %s (workflow %s, run %s)\n", name, in.Collection, id, run)
				if !wait {
					fmt.Fprintf(cmd.OutOrStdout(), "follow it: crest wave status %s\n", name)
					return nil
				}
				return follow(ctx, s, id, in.Wave, cmd.OutOrStdout())
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&updates, "update", nil, "root update PACKAGE=REF (repeatable)")
	f.StringArrayVar(&groups, "group", nil, "packages to update together, comma-separated (repeatable)")
	f.StringVar(&title, "title", "", "what the wave is about, e.g. \"glibc 2.40\"")
	f.StringVar(&baseRef, "base-ref", "", "branch or commit to start from (default: the collection's main branch)")
	f.IntVar(&number, "wave", 0, "wave number (default: the next)")
	f.StringVar(&inputFile, "input", "", "a JSON file with the workflow input (as typed in the Web UI)")
	f.BoolVar(&wait, "wait", false, "follow progress until the wave ends")
	return cmd
}

// startWave starts a major wave together with its Validated update (update-with-start),
// so that a wave the workflow refuses (unknown package, missing ref…) is an error here,
// with every problem named, and not a wave that fails a moment later. It returns the run ID.
func startWave(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, in workflows.MajorWaveInput) (string, error) {
	return startValidated(ctx, c, opts, workflows.MajorWave, in)
}

// startValidated starts a workflow with a Validated update (update-with-start) and returns
// its run ID, or the workflow's refusal in its own words.
func startValidated(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, workflow, in any) (string, error) {
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	op := c.NewWithStartWorkflowOperation(opts, workflow, in)
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: workflows.UpdateValidated,
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err != nil {
		return "", err
	}
	if err := h.Get(ctx, nil); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return "", errors.New(app.Message())
		}
		return "", err
	}
	return h.RunID(), nil
}

// follow prints progress until the major wave ends.
func follow(ctx context.Context, s *session, id string, n int, out io.Writer) error {
	run := s.c.GetWorkflow(ctx, id, "")
	done := make(chan error, 1)
	go func() {
		var res workflows.MajorWaveResult
		done <- run.Get(ctx, &res)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			line, _ := progressLine(ctx, s, id, n)
			fmt.Fprintf(out, "\r%s\n", line)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name(n), err)
			}
			fmt.Fprintf(out, "%s finished; pin against its tags: crest tags, crest pin PACKAGE\n", s.name(n))
			return nil
		case <-ctx.Done():
			fmt.Fprintln(out)
			return ctx.Err()
		case <-tick.C:
			line, err := progressLine(ctx, s, id, n)
			if err != nil || line == last {
				continue
			}
			last = line
			fmt.Fprintf(out, "\r\033[K%s", line)
		}
	}
}

// progressLine is "wave-1-2 building [#######-----] 21/38 | waiting: libhttp".
func progressLine(ctx context.Context, s *session, id string, n int) (string, error) {
	v, err := s.c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return "", err
	}
	var st workflows.MajorStatus
	if err := v.Get(&st); err != nil {
		return "", err
	}
	var cur *workflows.MinorStatus
	for i := range st.Minor {
		if st.Minor[i].Phase != workflows.PhaseDone {
			cur = &st.Minor[i]
			break
		}
	}
	if cur == nil {
		return fmt.Sprintf("%s %s: %d minor waves tagged", s.name(n), st.Phase, len(st.Minor)), nil
	}
	counts := cur.Summary.Counts
	if w, err := s.st.WaveByNumber(ctx, st.Collection, n); err == nil {
		if m, err := s.st.MinorWaveByNumber(ctx, w.ID, cur.Number); err == nil {
			if c, err := s.st.MinorWaveCounts(ctx, m.ID); err == nil {
				counts = wire.Counts(c)
			}
		}
	}
	doneCount := counts.Total - counts.Pending
	line := fmt.Sprintf("%s %-10s %s %d/%d", cur.Name, cur.Phase, bar(doneCount, counts.Total, 24), doneCount, counts.Total)
	var waiting []string
	for _, f := range cur.Summary.Failures {
		if f.Resolution == "" {
			waiting = append(waiting, f.Package)
		}
	}
	if len(waiting) > 0 {
		line += " | waiting: " + strings.Join(waiting, ", ")
	}
	if st.Paused {
		line += " | paused"
	}
	return line, nil
}

func bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("-", width) + "]"
	}
	fill := done * width / total
	return "[" + strings.Repeat("#", fill) + strings.Repeat("-", width-fill) + "]"
}

func newWaveListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List major waves, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				waves, err := s.st.Waves(cmd.Context(), s.collection)
				if err != nil {
					return err
				}
				w := newTable(cmd.OutOrStdout(), "WAVE\tSTATE\tTITLE\tBRANCH\tMINOR WAVES\tSTARTED\tWHY")
				for _, wv := range waves {
					minors, err := s.st.MinorWaves(cmd.Context(), wv.ID)
					if err != nil {
						return err
					}
					tagged := 0
					for _, m := range minors {
						if m.State == "done" {
							tagged++
						}
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d tagged\t%s\t%s\n", wv.Name(), wv.State, wv.Title, wv.Branch,
						tagged, len(minors), wv.CreatedAt.Local().Format("2006-01-02 15:04"), dash(shortReason(wv.Reason)))
				}
				return w.Flush()
			})
		},
	}
}

func newWaveStatusCmd(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "status wave-N[-M]",
		Short: "Where a wave stands: per-package table, counts, blocked-by",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, minor, err := parseWave(args[0])
			if err != nil {
				return err
			}
			return a.withSession(cmd, false, func(s *session) error {
				return printStatus(cmd.Context(), s, major, minor, all, cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every package, not only those that failed or wait")
	return cmd
}

func printStatus(ctx context.Context, s *session, major, minor int, all bool, out io.Writer) error {
	wv, err := s.st.WaveByNumber(ctx, s.collection, major)
	if err != nil {
		return err
	}
	minors, err := s.st.MinorWaves(ctx, wv.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s of %s: %s", wv.Name(), s.collection, wv.State)
	if wv.Title != "" {
		fmt.Fprintf(out, " — %s", wv.Title)
	}
	fmt.Fprintf(out, " (branch %s)\n", wv.Branch)
	if wv.Reason != "" {
		fmt.Fprintf(out, "  why: %s\n", wv.Reason)
	}
	fixes, err := s.st.WaveFixes(ctx, wv.ID)
	if err != nil {
		return err
	}
	for _, f := range fixes {
		switch f.State {
		case store.PatchMergeMerged:
			fmt.Fprintf(out, "  security fix of patch-%d merged at %s: the next minor wave rebuilds against it (crest patch status patch-%d)\n",
				f.PatchID, shortCommit(f.Commit), f.PatchID)
		default:
			fmt.Fprintf(out, "  security fix of patch-%d %s: %s\n", f.PatchID, f.State, f.Reason)
		}
	}
	for _, m := range minors {
		if minor != 0 && m.Number != minor {
			continue
		}
		c, err := s.st.MinorWaveCounts(ctx, m.ID)
		if err != nil {
			return err
		}
		var ups []wire.Update
		_ = json.Unmarshal(m.Updates, &ups)
		var names []string
		for _, u := range ups {
			names = append(names, u.Package+"@"+u.Ref)
		}
		fmt.Fprintf(out, "\n%s  %s  updates %s\n", m.Name, m.State, strings.Join(names, ", "))
		if m.Reason != "" && m.State != "done" {
			fmt.Fprintf(out, "  why: %s\n", m.Reason)
		}
		fmt.Fprintf(out, "  %d packages: %d passed, %d failed, %d test-failed, %d dependency-failed, %d pending; %d resolved, %d waiting\n",
			c.Total, c.Passed, c.Failed, c.TestFailed, c.DependencyFailed, c.Pending, c.Resolved, c.Unresolved)
		if m.State != "done" {
			if t, err := s.st.NewestUnfinishedTag(ctx, m.ID); err == nil {
				fmt.Fprintf(out, "  unfinished tag %s at %s: green packages may pin there (crest pin PACKAGE --unfinished)\n", t.Name, shortCommit(t.Commit))
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		results, err := s.st.Results(ctx, m.ID, "")
		if err != nil {
			return err
		}
		// What a person may do comes from policy, the rule the Resolve and Retry updates
		// apply: status never invites what they would refuse.
		bySystem := map[string][]store.PackageResult{}
		for _, r := range results {
			bySystem[r.System] = append(bySystem[r.System], r)
		}
		actions := map[string]map[string][]string{}
		for system, rs := range bySystem {
			actions[system] = policy.Actions(activities.PolicyStates(rs))
		}
		w := newTable(out, "  PACKAGE\tSTATUS\tRESOLUTION\tATTEMPTS\tBLOCKED BY\tWHY")
		for _, r := range results {
			if !all && r.Status == store.StatusPassed && r.Resolution != "fixed" && r.LastError == "" {
				continue
			}
			why := r.Reason
			if r.Status == store.StatusPending && r.LastError != "" {
				why = "building " + r.LastError // infrastructure trouble, retried
			}
			if r.Resolution == "" && (m.State != "done" && m.State != "cancelled") {
				if next := policy.NextStep(actions[r.System][r.Package]); next != "" {
					why = strings.TrimPrefix(why+"; next: "+next, "; next: ")
					if why == next {
						why = "waiting: " + next
					}
					if r.Status == store.StatusFailed || r.Status == store.StatusTestFailed {
						why += "; " + lastLine(r.LogTail)
					}
				} else if r.Status == store.StatusDependencyFailed && why == "" {
					why = "waiting for its root causes"
				}
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\t%s\n", r.Package, r.Status, dash(r.Resolution), r.Attempts,
				dash(strings.Join(r.BlockedBy, ",")), why)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// shortReason is the first clause of a reason, for a table column.
func shortReason(reason string) string {
	if i := strings.Index(reason, "; next:"); i >= 0 {
		reason = reason[:i]
	}
	if len(reason) > 60 {
		reason = reason[:57] + "..."
	}
	return reason
}

func lastLine(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sendUpdate sends an update to a major wave and prints its answer.
func sendUpdate(cmd *cobra.Command, a *app, major int, name string, arg any) error {
	return sendUpdateTo(cmd, a, func(s *session) (string, string) { return waveID(s.collection, major), s.name(major) }, name, arg)
}

// sendUpdateTo sends an update to the workflow target names (its ID, and the name people
// know it by) and prints its answer: the wave and patch commands that steer a workflow.
func sendUpdateTo(cmd *cobra.Command, a *app, target func(*session) (id, name string), update string, arg any) error {
	return a.withSession(cmd, true, func(s *session) error {
		id, name := target(s)
		h, err := s.c.UpdateWorkflow(cmd.Context(), client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateName: update, Args: []any{arg},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var out string
		if err := h.Get(cmd.Context(), &out); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), out)
		return nil
	})
}

// resolveFlags adds the flags of a resolution (--as, --reason, --by) to cmd, into req:
// the wave's and the patch's resolve commands take the same.
func resolveFlags(cmd *cobra.Command, req *workflows.ResolveRequest) {
	cmd.Flags().StringVar(&req.Resolution, "as", "", "wont-fix or cant-fix")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, for the record and the maintainers")
	cmd.Flags().StringVar(&req.By, "by", "", "who decides (default: $USER)")
}

func newWaveResolveCmd(a *app) *cobra.Command {
	var req workflows.ResolveRequest
	cmd := &cobra.Command{
		Use:     "resolve wave-N-M PACKAGE --as wont-fix|cant-fix --reason TEXT",
		Short:   "Settle a failed package as wont-fix or cant-fix (its dependents follow)",
		Example: `  crest wave resolve wave-1-1 tetrix --as wont-fix --reason "upstream is dead"`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, minor, err := parseWave(args[0])
			if err != nil {
				return err
			}
			req.Package, req.Minor, req.By = args[1], minor, whoami(req.By)
			return sendUpdate(cmd, a, major, workflows.UpdateResolve, req)
		},
	}
	resolveFlags(cmd, &req)
	return cmd
}

func newWaveRetryCmd(a *app) *cobra.Command {
	var ref, by string
	cmd := &cobra.Command{
		Use:   "retry wave-N-M [PACKAGE] [--ref FIX]",
		Short: "Build a failed package again (after merging a fix ref when given), or move a needs-attention minor wave on",
		Example: `  crest wave retry wave-1-2 libhttp --ref fix/libhttp-libnet-2
  crest wave retry wave-1-2                 # a needs-attention minor wave tries again
  crest wave retry wave-1-2 libnet --ref update/libnet-2.0.1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, minor, err := parseWave(args[0])
			if err != nil {
				return err
			}
			pkg := ""
			if len(args) == 2 {
				pkg = args[1]
			}
			return sendUpdate(cmd, a, major, workflows.UpdateRetry, workflows.RetryRequest{
				Package: pkg, Ref: ref, Minor: minor, By: whoami(by)})
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "a fix (branch, tag or commit) to merge first")
	cmd.Flags().StringVar(&by, "by", "", "who asks (default: $USER)")
	return cmd
}

func newWaveAddCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "add wave-N PACKAGE=REF",
		Short: "Add a root update to a running major wave (re-plans what has not started)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, _, err := parseWave(args[0])
			if err != nil {
				return err
			}
			pkg, ref, ok := strings.Cut(args[1], "=")
			if !ok {
				return fmt.Errorf("%q: want PACKAGE=REF", args[1])
			}
			return sendUpdate(cmd, a, major, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: pkg, Ref: ref, By: whoami("")})
		},
	}
}

func newWavePauseCmd(a *app, pause bool) *cobra.Command {
	use, name, short := "pause", workflows.UpdatePause, "Pause a major wave: running builds finish, nothing new starts"
	if !pause {
		use, name, short = "resume", workflows.UpdateResume, "Resume a paused major wave"
	}
	var reason string
	cmd := &cobra.Command{
		Use:   use + " wave-N",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, _, err := parseWave(args[0])
			if err != nil {
				return err
			}
			return sendUpdate(cmd, a, major, name, workflows.PauseRequest{Reason: reason, By: whoami("")})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

func newWaveCancelCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel wave-N",
		Short: "Cancel a major wave: running builds stop, nothing more is tagged",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			major, _, err := parseWave(args[0])
			if err != nil {
				return err
			}
			return a.withSession(cmd, true, func(s *session) error {
				if err := s.c.SignalWorkflow(cmd.Context(), waveID(s.collection, major), "", workflows.SignalCancel, nil); err != nil {
					return fmt.Errorf("%s: %w", s.name(major), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: cancel requested\n", s.name(major))
				return nil
			})
		},
	}
}

func whoami(by string) string {
	if by != "" {
		return by
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "person"
}

// withSession runs fn with a session (Postgres, and Temporal when needTemporal) and closes
// it after: what every command that reads or steers waves, patches and queues does.
func (a *app) withSession(cmd *cobra.Command, needTemporal bool, fn func(s *session) error) error {
	s, done, err := a.session(cmd, needTemporal)
	if err != nil {
		return err
	}
	defer done()
	return fn(s)
}
