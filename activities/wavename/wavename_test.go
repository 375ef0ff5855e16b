package wavename_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/wavename"
)

func TestNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		prefix, major, minor string
	}{
		{"", "wave-3", "wave-3-2"},
		{"wave", "wave-3", "wave-3-2"},
		{"rel", "rel-3", "rel-3-2"},
		{"nixos-24", "nixos-24-3", "nixos-24-3-2"},
	} {
		require.Equal(t, tt.major, wavename.Major(tt.prefix, 3), "prefix %q", tt.prefix)
		require.Equal(t, tt.minor, wavename.Minor(tt.prefix, 3, 2), "prefix %q", tt.prefix)
	}
	require.Equal(t, "wave", wavename.Prefix(""))
	require.Equal(t, "rel", wavename.Prefix("rel"))
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		prefix, name string
		major, minor int
		ok           bool
	}{
		{"", "wave-3", 3, 0, true},
		{"wave", "wave-3-2", 3, 2, true},
		{"rel", "rel-12-10", 12, 10, true},
		{"nixos-24", "nixos-24-3", 3, 0, true},
		{"nixos-24", "nixos-24-3-2", 3, 2, true},
		{"rel", "wave-3", 0, 0, false}, // another prefix
		{"", "rel-3", 0, 0, false},
		{"rel", "rel-3-2-1", 0, 0, false},
		{"rel", "rel-", 0, 0, false},
		{"rel", "rel-0", 0, 0, false},
		{"rel", "rel-03", 0, 0, false},
		{"rel", "rel-+3", 0, 0, false},
		{"rel", "rel-3-", 0, 0, false},
		{"rel", "rel-3-0", 0, 0, false},
		{"rel", "rel-x", 0, 0, false},
		{"rel", "release-3", 0, 0, false},
		{"rel", "3", 0, 0, false},
	} {
		major, minor, ok := wavename.Parse(tt.prefix, tt.name)
		require.Equal(t, tt.ok, ok, "Parse(%q, %q)", tt.prefix, tt.name)
		require.Equal(t, [2]int{tt.major, tt.minor}, [2]int{major, minor}, "Parse(%q, %q)", tt.prefix, tt.name)
	}
}

// TestParseReadsWhatNamesWrite: names round-trip for any prefix and numbers.
func TestParseReadsWhatNamesWrite(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "wave", "rel", "a-1", "nixos-24.05"} {
		for n := 1; n <= 12; n++ {
			major, minor, ok := wavename.Parse(prefix, wavename.Major(prefix, n))
			require.True(t, ok)
			require.Equal(t, [2]int{n, 0}, [2]int{major, minor})
			for m := 1; m <= 12; m++ {
				major, minor, ok := wavename.Parse(prefix, wavename.Minor(prefix, n, m))
				require.True(t, ok)
				require.Equal(t, [2]int{n, m}, [2]int{major, minor})
			}
		}
	}
}

// TestNoHardCodedPrefix holds the rule that the tag prefix is respected everywhere: no
// non-test Go source spells a wave name with the default prefix ("wave-…" in Go, 'wave-'
// in SQL) instead of asking this package. graph/ is left out (its plan IDs are the
// planner's display IDs, not tags), and so are test helper packages (trackertest,
// testenv) and testdata, which may keep "wave" as their prefix; comments are not code.
func TestNoHardCodedPrefix(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			name := d.Name()
			if rel == "graph" || name == "testdata" || name == "vendor" || strings.HasSuffix(name, "test") ||
				(strings.HasPrefix(name, ".") && rel != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				s = lit.Value
			}
			if strings.HasPrefix(s, "wave-") || strings.Contains(s, "'wave-") {
				pos := fset.Position(lit.Pos())
				pos.Filename = rel
				t.Errorf("%s: %s hard-codes the tag prefix; name waves with wavename and the collection's TagPrefix", pos, lit.Value)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 50, "the walk reached the module's sources")
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test")
		dir = parent
	}
}

// TestUnfinished: the first unfinished tag of a minor wave is <minor>pre, later ones are
// numbered, and none of them reads as a wave name.
func TestUnfinished(t *testing.T) {
	m := wavename.Minor("nixos", 3, 2)
	for k, want := range map[int]string{1: "nixos-3-2pre", 2: "nixos-3-2pre2", 10: "nixos-3-2pre10"} {
		if got := wavename.Unfinished(m, k); got != want {
			t.Errorf("Unfinished(%q, %d) = %q, want %q", m, k, got, want)
		}
		if _, _, ok := wavename.Parse("nixos", wavename.Unfinished(m, k)); ok {
			t.Errorf("Parse read %q as a wave name", wavename.Unfinished(m, k))
		}
	}
}
