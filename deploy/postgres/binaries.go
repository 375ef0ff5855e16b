package postgres

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrBinariesMissing reports that no PostgreSQL server binaries were found.
var ErrBinariesMissing = errors.New("PostgreSQL server binaries (initdb, postgres) not found; install them with `sudo apt-get install postgresql` (Debian/Ubuntu) or set postgres.bin_dir")

// FindBinaries returns the directory holding initdb and postgres. An explicit dir wins; then
// the newest /usr/lib/postgresql/<major>/bin; then initdb on PATH (which on Debian is often a
// wrapper, so it comes last).
func FindBinaries(dir string) (string, error) {
	if dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("postgres.bin_dir %s: %w", dir, ErrBinariesMissing)
		}
		return dir, nil
	}
	candidates, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(candidates, func(i, j int) bool { return majorOf(candidates[i]) > majorOf(candidates[j]) })
	for _, c := range candidates {
		if hasServer(c) {
			return c, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasServer(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	return "", ErrBinariesMissing
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return n
}
