package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
	"github.com/crestwaves/crest/workflows"
)

func newPatchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "patch",
		Short: "Bring a security fix to finished tags: start, list, follow and cancel security patches",
		Long: `A security patch is a SecurityPatch workflow: for every finished tag that contains the
package (or those --tags names) it merges the fix, then either builds and tests the
patched package alone and grafts the dependents that refer to it (replace-dependency), or
rebuilds the package and its whole reverse closure in the tag with the build engine
(rebuild: no graft debt, and it retires the tag's earlier grafts), or tags the fix
<tag>-security-K-unfinished at once and starts a major wave from the tag with the fix as
its update, which re-verifies it as every wave does (duplicate-wave; the finished tags of a
running major wave are re-verified by a fork of that wave onto the fix instead, which
supersedes it, finishes each tag as soon as its minor wave is re-verified and carries on
with the wave's remaining minor waves and the retry fixes and resolutions people gave them;
a wave whose fork would be refused keeps running, and the patch fails saying why). --strategy auto lets
policy choose. Grafts are tagged once the collection's system tests pass on them. A
rebuild's failures get one issue per root cause and wait to be settled as a minor wave's:
crest patch retry with a fix, or crest patch resolve (wont-fix, cant-fix; never a protected
package). It tags <tag>-security-K, which crest pin then prefers. Then each running major wave
whose base contains the package (with --tags: each running wave it names, wave-N as crest
wave status names it) merges the fix onto its branch, so its next minor wave rebuilds the
dependents against it and retires the grafts; a wave whose branch conflicts with the fix
refuses it, and the patch fails with the conflict (its tags stay). --tags may name running
waves only: nothing is tagged, the fix goes onto their branches. Patches are named patch-N.`,
	}
	cmd.PersistentFlags().String("collection", "", "collection (default: the only one registered)")
	cmd.AddCommand(newPatchStartCmd(a), newPatchListCmd(a), newPatchStatusCmd(a), newPatchResolveCmd(a), newPatchRetryCmd(a),
		newPatchCancelCmd(a))
	return cmd
}

// patchID is the workflow ID of a patch named "patch-N" (or given whole).
func patchID(collection, name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	return collection + "/" + name
}

func newPatchStartCmd(a *app) *cobra.Command {
	var in workflows.SecurityPatchInput
	var wait bool
	cmd := &cobra.Command{
		Use:   "start PACKAGE --ref REF",
		Short: "Start a security patch of PACKAGE with the fix in REF",
		Example: `  crest patch start libcrypto --ref security/libcrypto-2.5.1 --strategy replace-dependency \
      --severity critical --advisory CVE-2026-0001 --wait
  crest patch start libcrypto --ref security/libcrypto-2.5.1 --strategy rebuild --wait
  crest patch start libcrypto --ref security/libcrypto-2.5.1 --tags wave-1-1,wave-2   # a tag and a running wave`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, true, func(s *session) error {
				ctx := cmd.Context()
				in.Collection, in.Package, in.By = s.collection, args[0], whoami(in.By)
				in.Limits = workflows.Limits{BuildQueuePrefix: a.cfg.TaskQueues.BuildPrefix}
				if in.Ref == "" {
					return errors.New("--ref: required (the branch, tag or commit with the fix)")
				}
				patches, err := s.st.Patches(ctx, s.collection)
				if err != nil {
					return err
				}
				name := fmt.Sprintf("patch-%d", len(patches)+1)
				id := patchID(s.collection, name)
				runID, err := startPatch(ctx, s.c, client.StartWorkflowOptions{ID: id, TaskQueue: a.cfg.TaskQueues.Default}, in)
				if err != nil {
					return fmt.Errorf("patch of %s refused: %w", in.Package, err)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "started %s: %s from %s (workflow %s, run %s)\n", name, in.Package, in.Ref, id, runID)
				if !wait {
					fmt.Fprintf(out, "follow it: crest patch status %s\n", name)
					return nil
				}
				err = waitPatch(ctx, s.c, id, runID, out)
				if perr := printPatch(ctx, s.st, id, out); perr != nil && err == nil {
					err = perr
				}
				if err != nil {
					var app *temporal.ApplicationError
					if errors.As(err, &app) {
						return errors.New(app.Message())
					}
					return fmt.Errorf("%s: %w", name, err)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Ref, "ref", "", "the branch, tag or commit of the collection with the fix (required)")
	f.StringVar(&in.Strategy, "strategy", "auto", "auto, replace-dependency, rebuild or duplicate-wave")
	f.StringVar(&in.Severity, "severity", "high", "low, medium, high or critical")
	f.StringVar(&in.Advisory, "advisory", "", "the advisory it fixes, e.g. CVE-2026-0001")
	f.StringSliceVar(&in.Tags, "tags", nil, "the finished tags and running waves (wave-N) to patch (default: every finished tag with the package and every running wave whose base has it)")
	f.StringVar(&in.By, "by", "", "who starts it, for the audit log (default: $USER)")
	f.BoolVar(&wait, "wait", false, "wait for the security tags; exit non-zero if the patch fails")
	return cmd
}

// waitPatch waits for a patch to end and, while its rebuild's failures wait for people,
// says once each time what they wait for (the patch's Status query): --wait would
// otherwise look hung.
func waitPatch(ctx context.Context, c client.Client, id, runID string, out io.Writer) error {
	done := make(chan error, 1)
	go func() { done <- c.GetWorkflow(ctx, id, runID).Get(ctx, nil) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	said := ""
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			v, err := c.QueryWorkflow(ctx, id, runID, workflows.QueryStatus)
			if err != nil {
				continue // it may be ending: done says
			}
			var st workflows.PatchStatus
			if v.Get(&st) == nil && st.Phase == workflows.PatchPhaseWaiting && st.Reason != said {
				said = st.Reason
				fmt.Fprintf(out, "%s waits: %s\n", path.Base(id), st.Reason)
			}
		}
	}
}

// startPatch starts a patch together with its Validated update (update-with-start), so
// that a patch the workflow refuses is an error here, every problem named, before
// anything is allocated. It returns the run ID.
func startPatch(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, in workflows.SecurityPatchInput) (string, error) {
	return startValidated(ctx, c, opts, workflows.SecurityPatch, in)
}

func newPatchListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List security patches, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				patches, err := s.st.Patches(cmd.Context(), s.collection)
				if err != nil {
					return err
				}
				w := newTable(cmd.OutOrStdout(), "PATCH\tPACKAGE\tREF\tSTRATEGY\tSEVERITY\tADVISORY\tSTATE\tWHY")
				for _, p := range patches {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", filepath.Base(p.WorkflowID), p.Package, p.Ref, p.Strategy,
						p.Severity, dash(p.Advisory), p.State, shortReason(p.Reason))
				}
				return w.Flush()
			})
		},
	}
}

func newPatchStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status patch-N",
		Short: "A patch's state, the security tags it made, and its graft debt (open and retired)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				return printPatch(cmd.Context(), s.st, patchID(s.collection, args[0]), cmd.OutOrStdout())
			})
		},
	}
}

// printPatch shows a patch from Postgres: state and reason, tags, debt.
func printPatch(ctx context.Context, st *store.Store, id string, out io.Writer) error {
	p, err := st.PatchByWorkflow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no patch %s (crest patch list shows them)", filepath.Base(id))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s from %s, severity %s, strategy %s", filepath.Base(p.WorkflowID), p.Package, p.Ref, p.Severity, p.Strategy)
	if p.Advisory != "" {
		fmt.Fprintf(out, ", %s", p.Advisory)
	}
	fmt.Fprintf(out, "\n%s", p.State)
	if p.Reason != "" {
		fmt.Fprintf(out, ": %s", p.Reason)
	}
	fmt.Fprintln(out)
	tags, err := st.PatchTags(ctx, p.ID)
	if err != nil {
		return err
	}
	if len(tags) > 0 {
		w := newTable(out, "COVERS\tTAG\tSTRATEGY\tSTATE\tCOMMIT\tWHY")
		for _, t := range tags {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.CoveredTag, t.Name, dash(t.Strategy), t.State, dash(shortCommit(t.Commit)),
				dash(shortReason(t.Reason)))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for _, t := range tags {
			if err := printPatchTag(ctx, st, p, t, out); err != nil {
				return err
			}
		}
	}
	merges, err := st.PatchMerges(ctx, p.ID)
	if err != nil {
		return err
	}
	if len(merges) > 0 {
		w := newTable(out, "RUNNING WAVE\tBRANCH\tSTATE\tCOMMIT\tWHY")
		for _, m := range merges {
			why := "merged into the running wave: its next minor wave rebuilds the dependents and retires the debt"
			if m.Reason != "" {
				why = m.Reason
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.Wave, m.Branch, m.State, dash(shortCommit(m.Commit)), why)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	debt, err := st.Grafts(ctx, p.ID)
	if err != nil {
		return err
	}
	open := 0
	for _, g := range debt {
		if g.RetiredAt == nil {
			open++
		}
	}
	if len(debt) == 0 {
		return nil
	}
	fmt.Fprintf(out, "graft debt: %d open, %d retired\n", open, len(debt)-open)
	several := slices.ContainsFunc(debt, func(g store.GraftDebt) bool { return g.System != debt[0].System })
	w := newTable(out, "PACKAGE\tCOVERS\tGRAFTED\tRETIRED BY")
	for _, g := range debt {
		retired := "open: rebuild it against the fix in a wave"
		if g.RetiredAt != nil {
			retired = g.RetiredBy
		}
		pkg := g.Package
		if several {
			pkg += " (" + g.System + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s → %s\t%s\n", pkg, g.CoveredTag, filepath.Base(g.OldPath)[:8], filepath.Base(g.NewPath)[:8], retired)
	}
	return w.Flush()
}

// printPatchTag says what a rebuild or a duplicate wave did for a covered tag, and which
// tag is unfinished and why.
func printPatchTag(ctx context.Context, st *store.Store, p store.Patch, t store.PatchTag, out io.Writer) error {
	if t.State == store.PatchTagTagged && len(t.Summary) > 0 {
		var sum struct {
			Carries []wire.CarriedFix `json:"carries"`
		}
		if err := json.Unmarshal(t.Summary, &sum); err != nil {
			return fmt.Errorf("summary of %s: %w", t.Name, err)
		}
		var carried []string
		for _, c := range sum.Carries {
			carried = append(carried, fmt.Sprintf("%s from %s (%s)", c.Package, c.Ref, c.Tag))
		}
		if len(carried) > 0 {
			fmt.Fprintf(out, "%s carries the earlier fixes of %s\n", t.Name, strings.Join(carried, ", "))
		}
	}
	switch {
	case t.MinorWaveID != 0:
		if t.State == store.PatchTagTagged {
			var sum struct {
				Rebuilt []string `json:"rebuilt"`
			}
			if err := json.Unmarshal(t.Summary, &sum); err != nil {
				return fmt.Errorf("summary of %s: %w", t.Name, err)
			}
			fmt.Fprintf(out, "%s: %d packages rebuilt from source against the fix, no graft debt\n", t.Name, len(sum.Rebuilt))
		}
		return printRebuildFailures(ctx, st, p, t, out)
	case t.DuplicateWave != 0:
		prefix, err := st.TagPrefix(ctx, p.Collection)
		if err != nil {
			return err
		}
		wave := wavename.Major(prefix, t.DuplicateWave)
		if t.State == store.PatchTagTagged {
			fmt.Fprintf(out, "%s: re-verified by %s; before, the fix was in %s\n", t.Name, wave, t.UnfinishedTag)
			return nil
		}
		fmt.Fprintf(out, "%s is UNFINISHED: the fix merged onto %s, not yet built or tested; %s re-verifies it (crest wave status %s)\n",
			t.UnfinishedTag, t.CoveredTag, wave, wave)
	}
	return nil
}

// printRebuildFailures lists the root causes of a rebuild's failures: how each was
// settled or what it waits for, the dependents it blocks, its issue and where the issue
// stands, and what a person may do (policy.PatchActions, the rule the patch's Resolve and
// Retry apply).
func printRebuildFailures(ctx context.Context, st *store.Store, p store.Patch, t store.PatchTag, out io.Writer) error {
	roots, err := st.RootCauses(ctx, t.MinorWaveID)
	if err != nil || len(roots) == 0 {
		return err
	}
	results, err := st.Results(ctx, t.MinorWaveID, "")
	if err != nil {
		return err
	}
	actions := policy.PatchActions(activities.PolicyStates(results))
	protected := map[string]bool{}
	for _, r := range results {
		protected[r.Package] = r.Protected
	}
	open := t.State != store.PatchTagTagged && p.State == store.PatchRunning
	name := filepath.Base(p.WorkflowID)
	causes := "root causes"
	if len(roots) == 1 {
		causes = "root cause"
	}
	fmt.Fprintf(out, "%s: %d %s of failures\n", t.Name, len(roots), causes)
	w := newTable(out, "  PACKAGE\tSTATUS\tSETTLED\tBLOCKS\tISSUE\tWHY")
	for _, r := range roots {
		issue := "-"
		if r.Fingerprint != "" {
			all, err := st.Issues(ctx, store.IssueFilter{Collection: p.Collection, Fingerprint: r.Fingerprint})
			if err != nil {
				return err
			}
			for _, is := range all {
				issue = fmt.Sprintf("%s (%s)", cmp.Or(r.Issue, is.URL), is.State)
			}
		}
		why := r.Reason
		if r.Resolution == "" && protected[r.Package] {
			// The policy's words are a minor wave's, where a person may resolve it.
			why = "protected: the security tag needs it fixed"
		}
		if r.Resolution == "" && open {
			if next := policy.NextStep(actions[r.Package]); next != "" {
				why = strings.TrimPrefix(why+"; next: "+next, "; ")
			}
			why += "; " + lastLine(r.LogTail)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\t%s\n", r.Package, r.Status, dash(r.Resolution), len(r.Dependents), issue, dash(why))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if open {
		fmt.Fprintf(out, "  settle them: crest patch retry %[1]s PACKAGE --ref FIX, or crest patch resolve %[1]s PACKAGE --as wont-fix|cant-fix --reason TEXT\n", name)
	}
	return nil
}

func newPatchResolveCmd(a *app) *cobra.Command {
	var req workflows.ResolveRequest
	cmd := &cobra.Command{
		Use:     "resolve patch-N PACKAGE --as wont-fix|cant-fix --reason TEXT",
		Short:   "Settle a failure of a patch's rebuild as wont-fix or cant-fix (not a protected package; its dependents follow)",
		Example: `  crest patch resolve patch-2 libhttp --as wont-fix --reason "moves to net_dial in its next release"`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Package, req.By = args[1], whoami(req.By)
			return sendUpdateTo(cmd, a, patchTarget(args[0]), workflows.UpdateResolve, req)
		},
	}
	resolveFlags(cmd, &req)
	return cmd
}

func newPatchRetryCmd(a *app) *cobra.Command {
	var ref, by string
	cmd := &cobra.Command{
		Use:     "retry patch-N PACKAGE [--ref FIX]",
		Short:   "Build a failed package of a patch's rebuild again, after merging a fix ref when given, with its dependents",
		Example: `  crest patch retry patch-2 pkgtool --ref fix/pkgtool-libcrypto-3`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendUpdateTo(cmd, a, patchTarget(args[0]), workflows.UpdateRetry, workflows.RetryRequest{
				Package: args[1], Ref: ref, By: whoami(by)})
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "a fix (branch, tag or commit) to merge onto the security tag's branch first")
	cmd.Flags().StringVar(&by, "by", "", "who asks (default: $USER)")
	return cmd
}

// patchTarget names patch-N for sendUpdateTo.
func patchTarget(name string) func(*session) (string, string) {
	return func(s *session) (string, string) { return patchID(s.collection, name), name }
}

func newPatchCancelCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel patch-N",
		Short: "Cancel a running patch: it stops before its next covered tag; pushed tags stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, true, func(s *session) error {
				id := patchID(s.collection, args[0])
				if err := s.c.SignalWorkflow(cmd.Context(), id, "", workflows.SignalCancel, nil); err != nil {
					return fmt.Errorf("cancel %s: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: cancel sent\n", args[0])
				return nil
			})
		},
	}
}
