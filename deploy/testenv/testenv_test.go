package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder is a trivial activity over the real store.
type recorder struct{ st *store.Store }

func (r *recorder) Record(ctx context.Context, e store.AuditEntry) (bool, error) {
	return r.st.RecordAudit(ctx, e)
}

func recordTwice(ctx workflow.Context, action string) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var r *recorder
	wrote := 0
	for range 2 {
		var ok bool
		e := store.AuditEntry{Key: "trivial/" + action, At: workflow.Now(ctx), Actor: "test", Action: action}
		if err := workflow.ExecuteActivity(ctx, r.Record, e).Get(ctx, &ok); err != nil {
			return 0, err
		}
		if ok {
			wrote++
		}
	}
	return wrote, nil
}

func TestEmbeddedTemporalRunsWorkflowAgainstStore(t *testing.T) {
	t.Parallel()
	st := testenv.Store(t)
	c, queue := testenv.Temporal(t)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(recordTwice)
	w.RegisterActivity(&recorder{st: st})
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, recordTwice, "hello")
	require.NoError(t, err)
	var wrote int
	require.NoError(t, run.Get(ctx, &wrote))
	require.Equal(t, 1, wrote, "the second, same-key write is a no-op")

	entries, err := st.Audit(ctx, "", "")
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "hello", entries[0].Action)
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := testenv.Store(t), testenv.Store(t)
	ctx := context.Background()
	_, err := a.UpsertCollection(ctx, store.Collection{Name: "only-in-a"})
	require.NoError(t, err)
	_, err = b.CollectionByName(ctx, "only-in-a")
	require.ErrorIs(t, err, store.ErrNotFound)
}
