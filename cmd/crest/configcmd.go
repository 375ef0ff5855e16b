package main

import (
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect Crest's configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (defaults < file < CREST_* env < flags), secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, v, err := loadConfig(a.configFile, cmd.Flags())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f := v.ConfigFileUsed(); f != "" {
				cmd.Printf("# from %s\n", f)
			}
			enc := yaml.NewEncoder(out)
			enc.SetIndent(2)
			if err := enc.Encode(redacted(v)); err != nil {
				return err
			}
			return enc.Close()
		},
	})
	return cmd
}
