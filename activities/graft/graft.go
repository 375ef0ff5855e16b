package graft

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

//go:embed grafts.nix
var graftsNix []byte

//go:embed graft.sh
var graftSh []byte

// Replacement rewrites references to Old into references to New, or to the output of the
// graft of package Graft in the same list (a dependent of a dependent).
type Replacement struct {
	Old   string `json:"old"`
	New   string `json:"new,omitempty"`
	Graft string `json:"graft,omitempty"`
}

// Graft is one package's graft: its built output Path and the replacements to apply. The
// JSON is what grafts.nix reads.
type Graft struct {
	Package      string        `json:"package"`
	Path         string        `json:"path"`
	Replacements []Replacement `json:"replacements"`
	// System is the system the graft is for, in a list of several systems' grafts:
	// grafts.nix takes those of the system it is evaluated for, and those without one.
	System string `json:"system,omitempty"`
}

// Action is what Check says to do with a graft.
type Action string

// Check's answers.
const (
	// ActionGraft: the graft is safe and needed.
	ActionGraft Action = "graft"
	// ActionSkip: the package does not refer to any old path; its output is unchanged.
	ActionSkip Action = "skip"
)

// Verdict is Check's answer for a safe graft, with its reason. Graft keeps only the
// replacements of paths the package refers to.
type Verdict struct {
	Action Action `json:"action"`
	Reason string `json:"reason"`
	Graft  Graft  `json:"graft"`
}

// Rules of UnsafeError. The values are stable: they are stored in the audit log.
const (
	RuleNameLength = "name-length"
	RuleEmbedded   = "embedded"
)

// UnsafeError refuses a graft: Package's graft would replace Old by New, which Rule forbids.
type UnsafeError struct {
	Package string
	Old     string
	New     string
	Rule    string
	Reason  string
}

// Error reads "graft of backup refused: …".
func (e *UnsafeError) Error() string {
	return "graft of " + e.Package + " refused: " + e.Reason
}

// Option is one Nix setting passed as `--option Name Value`.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Nix runs the Nix commands grafts need.
type Nix struct {
	// BinDir holds nix-instantiate and nix-store; empty means PATH.
	BinDir string
	// Options are passed to every command (e.g. sandbox false, substituters "", and
	// build-users-group "" for single-user Nix as root: see activities/nix).
	Options []Option
}

func (n Nix) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin := name
	if n.BinDir != "" {
		bin = filepath.Join(n.BinDir, name)
	}
	for _, o := range n.Options {
		args = append(args, "--option", o.Name, o.Value)
	}
	return exec.CommandContext(ctx, bin, args...)
}

func (n Nix) output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := n.command(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args[:min(len(args), 3)], " "), err, lastLines(stderr.String(), 5))
	}
	return strings.TrimSpace(string(out)), nil
}

func lastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.Contains(l, "build-users-group") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

// References lists the store paths path refers to (`nix-store -q --references`), itself
// included when it refers to itself.
func (n Nix) References(ctx context.Context, path string) ([]string, error) {
	out, err := n.output(ctx, "nix-store", "-q", "--references", path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// Check decides whether g is safe and needed (see the package documentation for the
// rules). An unsafe graft is an *UnsafeError; other errors are infrastructure trouble.
func (n Nix) Check(ctx context.Context, g Graft) (Verdict, error) {
	for _, r := range g.Replacements {
		if r.New == "" {
			continue // a graft's output has the name of its original: same length by construction
		}
		o, nw := filepath.Base(r.Old), filepath.Base(r.New)
		if len(o) != len(nw) {
			return Verdict{}, &UnsafeError{Package: g.Package, Old: r.Old, New: r.New, Rule: RuleNameLength,
				Reason: fmt.Sprintf("%s and %s differ in length (%d and %d bytes), so references cannot be rewritten in place; rebuild instead", o, nw, len(o), len(nw))}
		}
	}
	for _, r := range g.Replacements {
		if err := checkEmbedded(g, r); err != nil {
			return Verdict{}, err
		}
	}
	refs, err := n.References(ctx, g.Path)
	if err != nil {
		return Verdict{}, fmt.Errorf("check graft of %s: %w", g.Package, err)
	}
	kept := g
	kept.Replacements = nil
	for _, r := range g.Replacements {
		if slices.Contains(refs, r.Old) {
			kept.Replacements = append(kept.Replacements, r)
		}
	}
	if len(kept.Replacements) == 0 {
		return Verdict{Action: ActionSkip, Graft: kept,
			Reason: fmt.Sprintf("%s does not refer to %s: nothing to graft", filepath.Base(g.Path), oldNames(g.Replacements))}, nil
	}
	return Verdict{Action: ActionGraft, Graft: kept,
		Reason: fmt.Sprintf("%s refers to %s", filepath.Base(g.Path), oldNames(kept.Replacements))}, nil
}

func oldNames(rs []Replacement) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = filepath.Base(r.Old)
	}
	return strings.Join(names, ", ")
}

// storeName is the name part of a store path: "libcrypto-2.5.0".
func storeName(p string) string {
	b := filepath.Base(p)
	if len(b) > 33 && b[32] == '-' {
		return b[33:]
	}
	return b
}

// checkEmbedded applies the embedding rule of the package documentation to one replacement.
func checkEmbedded(g Graft, r Replacement) error {
	refuse := func(reason string) error {
		return &UnsafeError{Package: g.Package, Old: r.Old, New: r.New, Rule: RuleEmbedded, Reason: reason + "; rebuild instead"}
	}
	dep := storeName(r.Old)
	if f, err := os.Open(filepath.Join(g.Path, "nix-support", "embeds")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if name := strings.TrimSpace(sc.Text()); name != "" && (name == dep || strings.HasPrefix(dep, name+"-")) {
				f.Close()
				return refuse(fmt.Sprintf("%s declares in nix-support/embeds that it embeds %s", storeName(g.Path), name))
			}
		}
		f.Close()
	}
	old, err := fileDigests(r.Old)
	if err != nil {
		return fmt.Errorf("check graft of %s: %w", g.Package, err)
	}
	if len(old) == 0 {
		return nil
	}
	var found error
	err = filepath.WalkDir(g.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		sum, size, err := digest(p)
		if err != nil || size == 0 {
			return err
		}
		if src, ok := old[sum]; ok {
			rel, _ := filepath.Rel(g.Path, p)
			found = refuse(fmt.Sprintf("%s/%s is a copy of %s/%s: the package embeds %s rather than referring to it",
				storeName(g.Path), rel, dep, src, dep))
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check graft of %s: %w", g.Package, err)
	}
	return found
}

// fileDigests maps the SHA-256 of every non-empty regular file under root to its path
// relative to root.
func fileDigests(root string) (map[[32]byte]string, error) {
	out := map[[32]byte]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		sum, size, err := digest(p)
		if err != nil || size == 0 {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[sum] = rel
		return nil
	})
	return out, err
}

func digest(p string) ([32]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return [32]byte{}, 0, err
	}
	return [32]byte(h.Sum(nil)), n, nil
}

// WriteExpression writes grafts.nix, its builder graft.sh and the list grafts.json into
// dir, which a collection's index can import: `import dir/grafts.nix { inherit system
// hostPath; }`. Grafts are written in system and package order; a package listed twice
// for one system is an error.
func WriteExpression(dir string, grafts []Graft) error {
	sorted := slices.Clone(grafts)
	slices.SortFunc(sorted, func(a, b Graft) int {
		return cmp.Or(strings.Compare(a.System, b.System), strings.Compare(a.Package, b.Package))
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Package == sorted[i-1].Package && sorted[i].System == sorted[i-1].System {
			return fmt.Errorf("write grafts: %s is listed twice", sorted[i].Package)
		}
	}
	list, err := json.MarshalIndent(sorted, "", "  ")
	if err != nil {
		return fmt.Errorf("write grafts: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write grafts: %w", err)
	}
	for name, data := range map[string][]byte{"grafts.nix": graftsNix, "graft.sh": graftSh, "grafts.json": append(list, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write grafts: %w", err)
		}
	}
	return nil
}

// Instantiate evaluates dir/grafts.nix (see WriteExpression) and returns each package's
// graft derivation, writing the .drv files to the store. An empty system is the one Nix
// runs on.
func (n Nix) Instantiate(ctx context.Context, dir, system, hostPath string) (map[string]string, error) {
	sys := "builtins.currentSystem"
	if system != "" {
		sys = strconv.Quote(system)
	}
	expr := fmt.Sprintf(`let g = import %s { system = %s; hostPath = %s; }; in builtins.mapAttrs (_: d: d.drvPath) g`,
		filepath.Join(dir, "grafts.nix"), sys, strconv.Quote(hostPath))
	out, err := n.output(ctx, "nix-instantiate", "--eval", "--json", "--strict", "--read-write-mode", "--expr", expr)
	if err != nil {
		return nil, fmt.Errorf("instantiate grafts: %w", err)
	}
	drvs := map[string]string{}
	if err := json.Unmarshal([]byte(out), &drvs); err != nil {
		return nil, fmt.Errorf("instantiate grafts: %w", err)
	}
	return drvs, nil
}

// Realise builds a graft derivation and returns its output path.
func (n Nix) Realise(ctx context.Context, drv string) (string, error) {
	out, err := n.output(ctx, "nix-store", "--realise", drv)
	if err != nil {
		return "", fmt.Errorf("realise %s: %w", drv, err)
	}
	if out == "" {
		return "", errors.New("realise " + drv + ": no output path")
	}
	return out, nil
}

// RealiseAll builds graft derivations in one nix-store run (Nix orders grafts of grafts
// and runs independent ones in parallel) and returns their output paths, in order.
func (n Nix) RealiseAll(ctx context.Context, drvs []string) ([]string, error) {
	if len(drvs) == 0 {
		return nil, nil
	}
	out, err := n.output(ctx, "nix-store", append([]string{"--realise"}, drvs...)...)
	if err != nil {
		return nil, fmt.Errorf("realise %d grafts: %w", len(drvs), err)
	}
	paths := strings.Fields(out)
	if len(paths) != len(drvs) {
		return nil, fmt.Errorf("realise %d grafts: nix-store printed %d outputs", len(drvs), len(paths))
	}
	return paths, nil
}
