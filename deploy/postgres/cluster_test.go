package postgres

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func psql(t *testing.T, c *Cluster, sql string) string {
	t.Helper()
	bin, err := FindBinaries("")
	require.NoError(t, err)
	out, err := exec.Command(filepath.Join(bin, "psql"), "-XAtq", c.DSN(""), "-c", sql).CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.TrimSpace(string(out))
}

func TestStartRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(reachableTempDir(t), "pg")
	c, err := Start(ctx, Options{Dir: dir, Ephemeral: true})
	require.NoError(t, err)
	psql(t, c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
	require.NoError(t, c.Stop(ctx))
	select {
	case <-c.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
	}

	c2, err := Start(ctx, Options{Dir: dir, Ephemeral: true})
	require.NoError(t, err)
	defer c2.Stop(ctx)
	require.Equal(t, "still here", psql(t, c2, "SELECT v FROM kept"))
}

func TestPortInUseIsNamed(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{Dir: t.TempDir(), Port: port})
	require.ErrorIs(t, err, ErrPortInUse)
	require.Contains(t, err.Error(), strconv.Itoa(port))
}

func TestMissingBinariesSayHowToInstall(t *testing.T) {
	t.Parallel()
	_, err := FindBinaries(t.TempDir())
	require.True(t, errors.Is(err, ErrBinariesMissing))
	require.Contains(t, err.Error(), "apt-get install postgresql")
}

// reachableTempDir is a temp dir the server account can traverse even when tests run as
// root (t.TempDir's parents are 0700).
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	return dir
}
