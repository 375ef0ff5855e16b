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
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// demoCollection is the name crest dev registers the demo under, and demoPrefix its tag
// prefix.
const (
	demoCollection = "demo"
	demoPrefix     = wavename.Default
)

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
	return acts.RegisterCollection(ctx, wire.Collection{
		Name: demoCollection, Remote: remote, Evaluator: "index.nix", Systems: []string{"x86_64-linux"},
		ProtectedRoots: demo.ProtectedRoots(), SystemTests: demo.SystemTests(), TagPrefix: demoPrefix, MainBranch: demo.MainBranch,
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
			fmt.Fprintf(out, "\nDemo: %[1]s is still under way: %[2]s wave status %[1]s\n", w.Name(), cliName())
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
		Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2}, {Package: "libnet", Ref: demo.UpdateLibnet2}},
		Limits:  workflows.Limits{BuildQueuePrefix: cfg.TaskQueues.BuildPrefix}}
	id, name := waveID(demoCollection, n), wavename.Major(demoPrefix, n)
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.TaskQueues.Default,
		TypedSearchAttributes: waveAttributes(demoCollection, name)}, workflows.MajorWave, in); err != nil {
		return err
	}
	fmt.Fprintf(out, `
Demo: started %[1]s (libcore 2, then libnet 2) as workflow %[2]s — watch it in the Web UI.
Within a minute %[6]s waits on two failures: tetrix no longer builds with libcore 2, and
calc's test fails. Settle them (or use the Web UI's Update button on the workflow):
  %[5]s wave status %[1]s
  %[5]s wave resolve %[6]s tetrix --as wont-fix --reason "upstream is gone"
  %[5]s wave retry %[6]s calc --ref %[3]s
Then %[7]s waits on libhttp, which breaks with libnet 2 and blocks three packages:
  %[5]s wave retry %[7]s libhttp --ref %[4]s
Each failure has one issue in the local tracker (%[5]s issues list; %[5]s issues show N);
a failure nobody fixes is marked broken by policy after 10 minutes (a comment extends it:
%[5]s issues comment N --as alice "on it"). Finally: %[5]s tags; %[5]s pin fetch
`, name, id, demo.FixCalcPrecision, demo.FixLibhttpLibnet2, cliName(),
		wavename.Minor(demoPrefix, n, 1), wavename.Minor(demoPrefix, n, 2))
	return nil
}
