package graph

import (
	"bytes"
	"compress/gzip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const nixRecords = `{"id":"aaa-zlib-1.2.11","name":"zlib-1.2.11","pname":"zlib","version":"1.2.11","attr":"zlib","deps":[],"big_parallel":false,"build_seconds":42.5}
{"id":"bbb-hook","name":"hook","pname":"hook","version":"","attr":null,"deps":["aaa-zlib-1.2.11"],"big_parallel":false}

{"id":"ccc-llvm-10","name":"llvm-10","pname":"llvm","version":"10","attr":"llvm","deps":["aaa-zlib-1.2.11","bbb-hook"],"big_parallel":true}
`

const debianRecords = `{"name":"zlib","version":"1:1.2.13","deps":[],"deps_arch_nocheck":[],"source_bytes":1000,"installed_kb":20,"essential":false}
{"name":"libpng1.6","version":"1.6.39","deps":["zlib"],"source_bytes":2000,"installed_kb":30,"build_seconds":99}
`

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestReadNixRecords(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string][]byte{"plain": []byte(nixRecords), "gzip": gz(t, nixRecords)} {
		pkgs, err := ReadPackages(bytes.NewReader(raw), ReadOptions{})
		require.NoError(t, err, name)
		require.Len(t, pkgs, 3, name)
		require.Equal(t, Package{
			Key: "aaa-zlib-1.2.11", Name: "zlib", Attr: "zlib", Version: "1.2.11",
			Drv: "aaa-zlib-1.2.11", Deps: []string{}, Cost: CostHints{BuildSeconds: 42.5},
		}, pkgs[0], name)
		require.Equal(t, "", pkgs[1].Attr, "a null attr is an internal derivation")
		require.True(t, pkgs[2].Cost.BigParallel)
		require.Equal(t, []string{"aaa-zlib-1.2.11", "bbb-hook"}, pkgs[2].Deps)
	}
}

func TestReadNixByNameTranslatesDeps(t *testing.T) {
	t.Parallel()
	pkgs, err := ReadPackages(strings.NewReader(nixRecords), ReadOptions{Key: KeyName})
	require.NoError(t, err)
	require.Equal(t, "zlib-1.2.11", pkgs[0].Key)
	require.Equal(t, []string{"zlib-1.2.11", "hook"}, pkgs[2].Deps)
	_, _, err = New(pkgs, Options{})
	require.NoError(t, err)
}

func TestReadDebianRecords(t *testing.T) {
	t.Parallel()
	pkgs, err := ReadPackages(bytes.NewReader(gz(t, debianRecords)), ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, []Package{
		{Key: "zlib", Name: "zlib", Version: "1:1.2.13", Deps: []string{}, Cost: CostHints{SourceBytes: 1000, InstalledKB: 20}},
		{Key: "libpng1.6", Name: "libpng1.6", Version: "1.6.39", Deps: []string{"zlib"},
			Cost: CostHints{SourceBytes: 2000, InstalledKB: 30, BuildSeconds: 99}},
	}, pkgs)
	_, err = ReadPackages(strings.NewReader(debianRecords), ReadOptions{Key: KeyID})
	require.ErrorContains(t, err, `line 1: record has no "id"`)
}

func TestReadErrorsNameTheLine(t *testing.T) {
	t.Parallel()
	_, err := ReadPackages(strings.NewReader(debianRecords+"{not json}\n"), ReadOptions{})
	require.ErrorContains(t, err, "line 3")
	_, err = ReadPackages(strings.NewReader(""), ReadOptions{Key: "bogus"})
	require.ErrorContains(t, err, `key mode "bogus"`)
	_, err = ReadPackages(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), ReadOptions{})
	require.ErrorContains(t, err, "gzip")
}

func TestCrestRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	pkgs := []Package{
		{Key: "hello", Name: "hello", Version: "2.10", System: "x86_64-linux", Drv: "/nix/store/x-hello.drv",
			Deps: []string{"stdenv"}, Tests: []Test{{Name: "version", Drv: "/nix/store/y.drv"}},
			Maintainers: []string{"alice"}, Broken: true, Cost: CostHints{BuildSeconds: 3}},
		{Key: "stdenv", Name: "stdenv", Attr: "stdenv"},
	}
	var b bytes.Buffer
	require.NoError(t, WritePackages(&b, pkgs))
	require.Equal(t, 2, strings.Count(b.String(), "\n"))
	back, err := ReadPackages(&b, ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, pkgs, back)

	// A graph writes back what it read, normalized.
	g := mustNew(t, back)
	b.Reset()
	require.NoError(t, WritePackages(&b, g.Packages()))
	again, err := ReadPackages(&b, ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, g.Packages(), again)
}

func TestStrictAndLenientOnRecords(t *testing.T) {
	t.Parallel()
	bad := debianRecords + `{"name":"zlib","deps":[]}
{"name":"loop","deps":["loop","missing"]}
`
	_, rep, err := Load(strings.NewReader(bad), ReadOptions{}, Options{})
	require.ErrorContains(t, err, "load graph: invalid graph: 1 unknown dependency (loop -> missing), 1 duplicate key (zlib), 1 self-edge (loop)")
	require.NotNil(t, rep)
	g, rep, err := Load(strings.NewReader(bad), ReadOptions{}, Options{Lenient: true})
	require.NoError(t, err)
	require.Equal(t, 3, g.Len())
	require.Equal(t, []DepRef{{From: "loop", To: "missing"}}, rep.UnknownDeps)
	require.Equal(t, []string{"zlib"}, rep.Duplicates)
	require.Equal(t, []string{"loop"}, rep.SelfEdges)
	require.Empty(t, g.Deps("loop"))
}

// The recorded graphs load cleanly, with the sizes their README states.
func TestReadRecordedGraphs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file          string
		nodes, edges  int
		sccs, largest int
		layers        int
	}{
		{helloFile, 93, 368, 0, 0, 0},
		{appsFile, 960, 7751, 0, 0, 84},
		{debianFile, 34288, 246897, 75, 4850, 25},
	} {
		g := loadData(t, c.file)
		require.Equal(t, c.nodes, g.Len(), c.file)
		require.Equal(t, c.edges, g.EdgeCount(), c.file)
		sccs := g.SCCs()
		require.Len(t, sccs, c.sccs, c.file)
		if c.sccs > 0 {
			require.Len(t, sccs[0], c.largest, c.file)
		}
		if c.layers > 0 {
			require.Len(t, g.Layers(), c.layers, c.file)
		}
	}
	f, err := os.Open(dataPath(t, helloFile))
	require.NoError(t, err)
	defer f.Close()
	pkgs, err := ReadPackages(f, ReadOptions{})
	require.NoError(t, err)
	require.Len(t, pkgs, 93)
}
