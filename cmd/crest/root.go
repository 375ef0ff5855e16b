package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// app carries what every command needs once flags are parsed.
type app struct {
	configFile string
	cfg        *Config
}

func newRootCmd() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:           "crest",
		Short:         "Wave-based release orchestration for package collections",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Annotations["config"] == "none" {
				return nil
			}
			cfg, _, err := loadConfig(a.configFile, cmd.Flags())
			if err != nil {
				return err
			}
			a.cfg = cfg
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "config file (default: crest.yaml in . or $XDG_CONFIG_HOME/crest)")
	pf.String("data-dir", "", "data directory of crest dev (config data_dir)")
	pf.String("temporal-address", "", "Temporal frontend host:port (config temporal.address)")
	pf.String("namespace", "", "Temporal namespace (config temporal.namespace)")
	pf.String("database-url", "", "PostgreSQL URL (config database.url)")
	pf.String("task-queue", "", "task queue of workflows (config task_queues.default)")

	root.AddCommand(
		newDevCmd(a),
		newMigrateCmd(a),
		newConfigCmd(a),
		newPlanCmd(),
		newWorkerCmd(a),
		newWaveCmd(a),
		newTagsCmd(a),
		newPinCmd(a),
		newGCCmd(a),
		newPatchCmd(a),
		newIssuesCmd(a),
		newBenchCmd(a),
		newServeCmd(a),
		newQueueCmd(a),
	)
	return root
}

// newTable starts an aligned table with a header row (tab-separated columns).
func newTable(out io.Writer, header string) *tabwriter.Writer {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	return w
}
