package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
)

func newTagsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tags",
		Short: "List the all-green wave tags, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				tags, err := s.st.Tags(cmd.Context(), s.collection)
				if err != nil {
					return err
				}
				w := newTable(cmd.OutOrStdout(), "TAG\tCOMMIT\tUPDATES\tPACKAGES\tSETTLED BY RESOLUTION\tCREATED")
				for _, t := range tags {
					var sum activities.TagSummary
					_ = json.Unmarshal(t.Summary, &sum)
					var ups []string
					for _, u := range sum.Updates {
						ups = append(ups, u.Package)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", t.Name, shortCommit(t.Commit), strings.Join(ups, ","),
						sum.Counts.Total, sum.Counts.Resolved, t.CreatedAt.Local().Format("2006-01-02 15:04"))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().String("collection", "", "collection (default: the only one registered)")
	return cmd
}

func newPinCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin PACKAGE",
		Short: "The newest tag where PACKAGE and its whole build closure are green, and the commit to pin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, false, func(s *session) error {
				out := cmd.OutOrStdout()
				unfinished, _ := cmd.Flags().GetBool("unfinished")
				res, err := s.st.Pin(cmd.Context(), s.collection, args[0], store.PinOptions{Unfinished: unfinished})
				for _, r := range res.Rejected {
					fmt.Fprintf(out, "%s: not green: %s\n", r.Tag, strings.Join(r.Reasons, "; "))
				}
				if errors.Is(err, store.ErrNoGreenTag) {
					return fmt.Errorf("%s: no tag of %s has it green with its whole closure", args[0], s.collection)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s is green with its closure (%d packages) at %s\ncommit %s\n", res.Package, res.Closure, res.Tag, res.Commit)
				if res.Unfinished {
					fmt.Fprintf(out, "%s is an unfinished minor wave: %d of its packages are not verified yet\n", res.Tag, res.Unverified)
				}
				if res.Covers != "" {
					fmt.Fprintf(out, "%s is %s with security fixes (crest patch list)\n", res.Tag, res.Covers)
				}
				return nil
			})
		},
	}
	cmd.Flags().String("collection", "", "collection (default: the only one registered)")
	cmd.Flags().Bool("unfinished", false, "also consider tags of unfinished minor waves (wave-N-Mpre: builds done, failures not settled yet)")
	return cmd
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
