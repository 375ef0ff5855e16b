package store_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/crestwaves/crest/internal/shareddata"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMigrateFromEmptyAndAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.DSN(t, true))
	require.NoError(t, err)
	defer st.Close()

	known, _, err := st.MigrationStatus(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, known)
	for _, m := range known {
		require.True(t, m.AppliedAt.IsZero(), "empty database has %04d applied", m.Version)
	}

	applied, err := st.Migrate(ctx)
	require.NoError(t, err)
	require.Len(t, applied, len(known))

	again, err := st.Migrate(ctx)
	require.NoError(t, err)
	require.Empty(t, again, "a second run applies nothing")

	known, unknown, err := st.MigrationStatus(ctx)
	require.NoError(t, err)
	require.Empty(t, unknown)
	for _, m := range known {
		require.False(t, m.AppliedAt.IsZero(), "%04d_%s not applied", m.Version, m.Name)
	}
}

func TestMigrateConcurrentStartersApplyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.DSN(t, true)
	errs := make(chan error, 3)
	total := make(chan int, 3)
	for range 3 {
		go func() {
			st, err := store.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			applied, err := st.Migrate(ctx)
			total <- len(applied)
			errs <- err
		}()
	}
	sum := 0
	for range 3 {
		require.NoError(t, <-errs)
		sum += <-total
	}
	all, err := store.Migrations()
	require.NoError(t, err)
	require.Equal(t, len(all), sum, "each migration applied by exactly one starter")
}

func readDebian(t testing.TB) []graph.Package {
	t.Helper()
	f, err := os.Open(shareddata.For(t, shareddata.Debian))
	require.NoError(t, err)
	defer f.Close()
	pkgs, err := graph.ReadPackages(f, graph.ReadOptions{Key: graph.KeyName})
	require.NoError(t, err)
	return pkgs
}

func TestDebianGraphRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	pkgs := readDebian(t)
	require.Len(t, pkgs, 34288)

	colID, err := st.UpsertCollection(ctx, store.Collection{Name: "debian", Remote: "https://deb.debian.org"})
	require.NoError(t, err)
	ev, created, err := st.SaveEvaluation(ctx, colID, "bookworm-12.15", "x86_64-linux", pkgs)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 34288, ev.Packages)

	wantEdges := 0
	for _, p := range pkgs {
		seen := map[string]bool{}
		for _, d := range p.Deps {
			if !seen[d] {
				seen[d] = true
				wantEdges++
			}
		}
	}
	require.Equal(t, wantEdges, ev.Edges)
	require.InDelta(t, 246897, ev.Edges, 1000, "the data's README counts 246,897 edges")

	back, err := st.LoadPackages(ctx, ev.ID)
	require.NoError(t, err)
	require.Len(t, back, len(pkgs))
	for i := range pkgs {
		want, got := pkgs[i], back[i]
		require.Equal(t, want.Key, got.Key)
		require.Equal(t, want.Version, got.Version)
		require.Equal(t, want.Cost, got.Cost, want.Key)
		require.ElementsMatch(t, dedupe(want.Deps), got.Deps, want.Key)
	}

	again, created, err := st.SaveEvaluation(ctx, colID, "bookworm-12.15", "x86_64-linux", pkgs)
	require.NoError(t, err)
	require.False(t, created, "an evaluation is stored once per commit")
	require.Equal(t, ev.ID, again.ID)
}

func dedupe(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func TestSaveEvaluationRejectsUnknownDependency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	colID, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	_, _, err = st.SaveEvaluation(ctx, colID, "abc", "x86_64-linux", []graph.Package{
		{Key: "app", Name: "app", Deps: []string{"libmissing"}},
	})
	require.ErrorContains(t, err, `"app" depends on unknown package "libmissing"`)
	_, err = st.FindEvaluation(ctx, colID, "abc", "x86_64-linux")
	require.True(t, errors.Is(err, store.ErrNotFound), "nothing half-written: %v", err)
}

func TestNotFoundIsDomainError(t *testing.T) {
	t.Parallel()
	st := testenv.Store(t)
	_, err := st.CollectionByName(context.Background(), "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorContains(t, err, "collection nope")
}

func TestOpenNeverShowsPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := store.Open(ctx, "postgres://crest:s3cr3t-pw@127.0.0.1:1/crest?sslmode=disable&connect_timeout=1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t-pw")
	require.Equal(t, "postgres://crest:xxxxx@127.0.0.1:1/crest?sslmode=disable", store.RedactDSN("postgres://crest:s3cr3t-pw@127.0.0.1:1/crest?sslmode=disable"))
}

func BenchmarkSaveDebianEvaluation(b *testing.B) {
	ctx := context.Background()
	pkgs := readDebian(b)
	st := testenv.Store(b)
	colID, err := st.UpsertCollection(ctx, store.Collection{Name: "debian"})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		commit := "bench-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		if _, _, err := st.SaveEvaluation(ctx, colID, commit, "x86_64-linux", pkgs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadDebianEvaluation(b *testing.B) {
	ctx := context.Background()
	pkgs := readDebian(b)
	st := testenv.Store(b)
	colID, err := st.UpsertCollection(ctx, store.Collection{Name: "debian"})
	require.NoError(b, err)
	ev, _, err := st.SaveEvaluation(ctx, colID, "bench", "x86_64-linux", pkgs)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.LoadPackages(ctx, ev.ID); err != nil {
			b.Fatal(err)
		}
	}
}
