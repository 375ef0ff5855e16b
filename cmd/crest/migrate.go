package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Apply or inspect the Postgres schema migrations"}
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := st.Migrate(cmd.Context())
			for _, m := range applied {
				cmd.Printf("applied %04d_%s\n", m.Version, m.Name)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				cmd.Println("schema is up to date")
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			known, unknown, err := st.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			w := newTable(cmd.OutOrStdout(), "VERSION\tNAME\tAPPLIED")
			for _, m := range known {
				at := "pending"
				if !m.AppliedAt.IsZero() {
					at = m.AppliedAt.Local().Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(w, "%04d\t%s\t%s\n", m.Version, m.Name, at)
			}
			for _, v := range unknown {
				fmt.Fprintf(w, "%04d\t(unknown to this crest)\tapplied\n", v)
			}
			return w.Flush()
		},
	})
	return cmd
}
