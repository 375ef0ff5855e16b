package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/postgres"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/workflows"
)

const templateDB = "crest_template"

var (
	tmpRoot string

	pgOnce    sync.Once
	pgCluster *postgres.Cluster
	pgErr     error

	tmOnce   sync.Once
	tmServer *temporal.Server
	tmClient client.Client
	tmErr    error

	dbSeq atomic.Int64
)

// Main runs the package's tests and then stops whatever they started.
func Main(m *testing.M) {
	code := m.Run()
	if tmClient != nil {
		tmClient.Close()
	}
	if tmServer != nil {
		tmServer.Stop()
	}
	if pgCluster != nil {
		_ = pgCluster.Stop(context.Background())
	}
	if tmpRoot != "" {
		_ = os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// TempRoot is a directory for the package's shared servers, reachable by the postgres
// account when tests run as root.
func tempRoot() (string, error) {
	if tmpRoot != "" {
		return tmpRoot, nil
	}
	dir, err := os.MkdirTemp("", "crest-test-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	tmpRoot = dir
	return dir, nil
}

func cluster() (*postgres.Cluster, error) {
	pgOnce.Do(func() {
		root, err := tempRoot()
		if err != nil {
			pgErr = err
			return
		}
		ctx := context.Background()
		pgCluster, pgErr = postgres.Start(ctx, postgres.Options{Dir: filepath.Join(root, "pg"), Ephemeral: true})
		if pgErr != nil {
			return
		}
		if pgErr = store.CreateDatabase(ctx, pgCluster.DSN(""), templateDB, ""); pgErr != nil {
			return
		}
		st, err := store.Open(ctx, pgCluster.DSN(templateDB))
		if err != nil {
			pgErr = err
			return
		}
		_, pgErr = st.Migrate(ctx)
		st.Close()
	})
	return pgCluster, pgErr
}

// DSN returns the connection string of a fresh database for this test, migrated unless
// empty is true; it is dropped when the test ends.
func DSN(t testing.TB, empty bool) string {
	t.Helper()
	c, err := cluster()
	if err != nil {
		t.Fatalf("testenv: throwaway PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), sanitize(t.Name()))
	template := templateDB
	if empty {
		template = "template0"
	}
	ctx := context.Background()
	if err := store.CreateDatabase(ctx, c.DSN(""), name, template); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = store.DropDatabase(context.Background(), c.DSN(""), name) })
	return c.DSN(name)
}

// Store opens a fresh, migrated database for this test.
func Store(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), DSN(t, false))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// Temporal returns a client of the package's embedded Temporal server and a task queue
// unique to this test, so tests sharing the server do not see each other's tasks.
func Temporal(t testing.TB) (client.Client, string) {
	t.Helper()
	tmOnce.Do(func() {
		ctx := context.Background()
		tmServer, tmErr = temporal.Start(ctx, temporal.Options{UIPort: -1, SearchAttributes: workflows.SearchAttributes})
		if tmErr != nil {
			return
		}
		tmClient, tmErr = client.Dial(client.Options{HostPort: tmServer.FrontendAddr(), Namespace: tmServer.Namespace(), Logger: temporal.SilentLogger()})
	})
	if tmErr != nil {
		t.Fatalf("testenv: embedded Temporal: %v", tmErr)
	}
	return tmClient, fmt.Sprintf("test-%d-%s", dbSeq.Add(1), sanitize(t.Name()))
}

// TemporalServer returns the package's embedded server (started by Temporal).
func TemporalServer(t testing.TB) *temporal.Server {
	t.Helper()
	Temporal(t)
	return tmServer
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

func sanitize(name string) string {
	s := unsafe.ReplaceAllString(strings.ToLower(name), "_")
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}
