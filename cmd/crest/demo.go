package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// demoCollection is the name crest dev registers the demo under.
const demoCollection = "demo"

// setupDemo creates the demo collection's repository in the data directory (once) and
// registers it.
func setupDemo(ctx context.Context, acts *activities.Activities, dataDir string) error {
	dir := filepath.Join(dataDir, "demo")
	remote := filepath.Join(dir, "collection.git")
	if _, err := os.Stat(remote); errors.Is(err, os.ErrNotExist) {
		if _, err := demo.Create(ctx, dir); err != nil {
			return fmt.Errorf("demo collection: %w", err)
		}
	}
	return acts.RegisterCollection(ctx, activities.Collection{
		Name: demoCollection, Remote: remote, Evaluator: "index.nix", Systems: []string{"x86_64-linux"},
		ProtectedRoots: demo.ProtectedRoots(), TagPrefix: "wave", MainBranch: demo.MainBranch,
	})
}

// startDemoWave starts the demo's major wave unless one is already under way, and says what
// to do when it waits for people.
func startDemoWave(ctx context.Context, cfg *Config, c client.Client, st *store.Store, out io.Writer) error {
	waves, err := st.Waves(ctx, demoCollection)
	if err != nil {
		return err
	}
	for _, w := range waves {
		switch w.State {
		case workflows.PhaseDone, workflows.PhaseCancelled, workflows.PhaseFailed:
		default:
			fmt.Fprintf(out, "\nDemo: wave-%d is still under way: %s wave status wave-%d\n", w.Number, cliName(), w.Number)
			return nil
		}
	}
	n, err := st.NextWaveNumber(ctx, demoCollection)
	if err != nil {
		return err
	}
	in := workflows.MajorWaveInput{Collection: demoCollection, Wave: n, Title: "libcore 2 and libnet 2",
		// A demo cannot wait a week: unfixed failures are marked broken after ten minutes.
		Policy:  json.RawMessage(`{"grace_period": "10m", "extension": "5m", "allow_short_periods": true}`),
		Updates: []activities.Update{{Package: "libcore", Ref: demo.UpdateLibcore2}, {Package: "libnet", Ref: demo.UpdateLibnet2}},
		Limits:  workflows.Limits{BuildQueuePrefix: cfg.TaskQueues.BuildPrefix}}
	id := waveID(demoCollection, n)
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.TaskQueues.Default,
		TypedSearchAttributes: waveAttributes(demoCollection, n)}, workflows.MajorWave, in); err != nil {
		return err
	}
	fmt.Fprintf(out, `
Demo: started wave-%[1]d (libcore 2, then libnet 2) as workflow %[2]s — watch it in the Web UI.
Within a minute wave-%[1]d-1 waits on two failures: tetrix no longer builds with libcore 2, and
calc's test fails. Settle them (or use the Web UI's Update button on the workflow):
  %[5]s wave status wave-%[1]d
  %[5]s wave resolve wave-%[1]d-1 tetrix --as wont-fix --reason "upstream is gone"
  %[5]s wave retry wave-%[1]d-1 calc --ref %[3]s
Then wave-%[1]d-2 waits on libhttp, which breaks with libnet 2 and blocks three packages:
  %[5]s wave retry wave-%[1]d-2 libhttp --ref %[4]s
Each failure has one issue in the local tracker (%[5]s issues list; %[5]s issues show N);
a failure nobody fixes is marked broken by policy after 10 minutes (a comment extends it:
%[5]s issues comment N --as alice "on it"). Finally: %[5]s tags; %[5]s pin fetch
`, n, id, demo.FixCalcPrecision, demo.FixLibhttpLibnet2, cliName())
	return nil
}
