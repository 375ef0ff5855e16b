package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/workflows"
)

func newPatchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "patch",
		Short: "Bring a security fix to finished tags: start, list, follow and cancel security patches",
		Long: `A security patch is a SecurityPatch workflow: for every finished tag that contains the
package (or those given with --tags) it merges the fix, then either builds and tests the
patched package alone and grafts the dependents that refer to it (replace-dependency), or
rebuilds the package and its whole reverse closure in the tag with the build engine
(rebuild: no graft debt, and it retires the tag's earlier grafts), or tags the fix
<tag>-security-K-unfinished at once and starts a major wave from the tag with the fix as
its update, which re-verifies it as every wave does (duplicate-wave). --strategy auto lets
policy choose. It tags <tag>-security-K, which crest pin then prefers; a failed build tags
nothing. Patches are named patch-N.`,
	}
	cmd.PersistentFlags().String("collection", "", "collection (default: the only one registered)")
	cmd.AddCommand(newPatchStartCmd(a), newPatchListCmd(a), newPatchStatusCmd(a), newPatchCancelCmd(a))
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
  crest patch start libcrypto --ref security/libcrypto-2.5.1 --strategy rebuild --wait`,
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
				var res workflows.SecurityPatchResult
				err = s.c.GetWorkflow(ctx, id, runID).Get(ctx, &res)
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
	f.StringSliceVar(&in.Tags, "tags", nil, "the finished tags to patch (default: every tag with the package)")
	f.StringVar(&in.By, "by", "", "who starts it, for the audit log (default: $USER)")
	f.BoolVar(&wait, "wait", false, "wait for the security tags; exit non-zero if the patch fails")
	return cmd
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
	w := newTable(out, "PACKAGE\tCOVERS\tGRAFTED\tRETIRED BY")
	for _, g := range debt {
		retired := "open: rebuild it against the fix in a wave"
		if g.RetiredAt != nil {
			retired = g.RetiredBy
		}
		fmt.Fprintf(w, "%s\t%s\t%s → %s\t%s\n", g.Package, g.CoveredTag, filepath.Base(g.OldPath)[:8], filepath.Base(g.NewPath)[:8], retired)
	}
	return w.Flush()
}

// printPatchTag says what a rebuild or a duplicate wave did for a covered tag, and which
// tag is unfinished and why.
func printPatchTag(ctx context.Context, st *store.Store, p store.Patch, t store.PatchTag, out io.Writer) error {
	switch {
	case t.MinorWaveID != 0 && t.State == store.PatchTagTagged:
		var sum struct {
			Rebuilt []string `json:"rebuilt"`
		}
		if err := json.Unmarshal(t.Summary, &sum); err != nil {
			return fmt.Errorf("summary of %s: %w", t.Name, err)
		}
		fmt.Fprintf(out, "%s: %d packages rebuilt from source against the fix, no graft debt\n", t.Name, len(sum.Rebuilt))
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
