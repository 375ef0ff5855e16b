package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/policy"
)

func newGCCmd(a *app) *cobra.Command {
	var (
		keep      int
		olderThan string
		dryRun    bool
		collect   bool
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Release the Nix garbage-collector roots of old tags (run it on the tag host)",
		Long: `When a tag is pushed, the tag host roots its outputs' closure in its Nix store
(<data_dir>/gcroots/<collection>/<tag>), so that no garbage collection deletes what a tag
needs. crest gc releases the roots of old tags: those older than the --keep-tags newest
finished tags (wave-N-M) and, with --older-than, older than that too. The newest finished
tags, and whatever was tagged after them, always keep their roots. The next nix-store --gc
(or --collect) then frees what only released tags kept.`,
		Example: `  crest gc --keep-tags 3 --dry-run
  crest gc --older-than 30d --collect`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("keep-tags") && !cmd.Flags().Changed("older-than") {
				return errors.New("say what to keep: --keep-tags N (the N newest finished tags) and/or --older-than D (e.g. 30d)")
			}
			r := policy.Retention{KeepTags: keep}
			if olderThan != "" {
				d, err := policy.ParseDuration(olderThan)
				if err != nil {
					return fmt.Errorf("--older-than: %w", err)
				}
				r.OlderThan = time.Duration(d)
			}
			if err := r.Check(); err != nil {
				return err
			}
			return a.withSession(cmd, false, func(s *session) error {
				out := cmd.OutOrStdout()
				roots, err := activities.ReleaseRoots(cmd.Context(), s.st, s.collection, r, time.Now(), dryRun)
				w := newTable(out, "TAG\tKIND\tOUTPUTS\tROOTED\tDECISION\tWHY")
				released, outputs := 0, 0
				for _, root := range roots {
					what := "keep"
					if root.Release {
						what = "release"
						released++
						outputs += root.Outputs
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", root.Tag, root.Kind, root.Outputs,
						root.CreatedAt.Local().Format("2006-01-02 15:04"), what, root.Reason)
				}
				if ferr := w.Flush(); err == nil {
					err = ferr
				}
				if err != nil {
					return err
				}
				switch {
				case dryRun:
					fmt.Fprintf(out, "would release the roots of %d tags (%d outputs); nothing changed (--dry-run)\n", released, outputs)
					return nil
				case released == 0:
					fmt.Fprintf(out, "released nothing: every tag of %s is kept\n", s.collection)
				default:
					fmt.Fprintf(out, "released the roots of %d tags (%d outputs)\n", released, outputs)
				}
				if !collect {
					fmt.Fprintln(out, "nix-store --gc (or crest gc --collect) frees what only they kept")
					return nil
				}
				n, err := newNix(a.cfg)
				if err != nil {
					return err
				}
				summary, err := n.CollectGarbage(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "nix-store --gc: %s\n", summary)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.String("collection", "", "collection (default: the only one registered)")
	f.IntVar(&keep, "keep-tags", 1, "keep the roots of the N newest finished tags (at least 1)")
	f.StringVar(&olderThan, "older-than", "", "release only roots older than this (e.g. 30d, 12h)")
	f.BoolVar(&dryRun, "dry-run", false, "say what would be released, release nothing")
	f.BoolVar(&collect, "collect", false, "then run nix-store --gc on this host's store")
	return cmd
}
