package workflows_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/crestwaves/crest/workflows"
)

// historiesDir holds recorded histories of real runs (the end-to-end test writes them when
// CREST_RECORD_HISTORIES is set: "1" writes here, another value into that subfolder, so that
// histories of older workflow code stay beside newer ones and all of them are replayed). Replaying them proves a change to workflow code does not break
// waves already running: such changes go behind workflow.GetVersion.
const historiesDir = "../testdata/histories"

func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join(historiesDir, "*", "*.json"))
	require.NoError(t, err)
	files = append(files, more...)
	require.NotEmpty(t, files, "no recorded histories in %s: run CREST_RECORD_HISTORIES=1 go test -run TestMajorWaveEndToEnd ./workflows/", historiesDir)
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, historiesDir+"/"), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.Register(r)
			fh, err := os.Open(f)
			require.NoError(t, err)
			defer fh.Close()
			h, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
			require.NoError(t, err)
			// Child workflow IDs derive from the parent's: replay under the recorded ID.
			id := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(f), ".json"), "~", "/")
			require.NoError(t, r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id}}))
		})
	}
}

// recordHistories writes the histories of the given workflows into historiesDir (named
// after their IDs, "/" written "~") when CREST_RECORD_HISTORIES=1.
func recordHistories(t *testing.T, c client.Client, ids ...string) {
	t.Helper()
	into := os.Getenv("CREST_RECORD_HISTORIES")
	switch into {
	case "":
		return
	case "1":
		into = historiesDir
	default:
		into = filepath.Join(historiesDir, filepath.Base(into))
	}
	require.NoError(t, os.MkdirAll(into, 0o755))
	for _, id := range ids {
		var h historypb.History
		it := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
		}
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
		require.NoError(t, err)
		file := strings.ReplaceAll(id, "/", "~") + ".json"
		require.NoError(t, os.WriteFile(filepath.Join(into, file), b, 0o644))
		t.Logf("recorded %s (%d events)", id, len(h.Events))
	}
}
