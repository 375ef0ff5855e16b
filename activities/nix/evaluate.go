package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/crestwaves/crest/graph"
)

// EvalError is an evaluation that Nix rejected: the expression at that commit is broken
// (syntax error, failed assertion, missing attribute) or does not produce an index. Running
// it again gives the same error, so it is not worth retrying.
type EvalError struct {
	Dir      string // the checkout
	System   string
	ExitCode int
	Tail     string // the end of Nix's error output
}

// Error names the checkout and Nix's last error line.
func (e *EvalError) Error() string {
	return fmt.Sprintf("evaluate %s for %s: %s", e.Dir, e.System, lastErrorLine(e.Tail))
}

// indexRecord is one package as the index expression writes it.
type indexRecord struct {
	Attr        string       `json:"attr"`
	Name        string       `json:"name"`
	Version     string       `json:"version"`
	System      string       `json:"system"`
	Drv         string       `json:"drv"`
	Deps        []string     `json:"deps"`
	Tests       []graph.Test `json:"tests"`
	Maintainers []string     `json:"maintainers"`
	Broken      bool         `json:"broken"`
}

// Evaluate runs the index expression of the checkout at checkoutDir for system ("" means
// Nix's current system) and returns its packages sorted by key. It writes every package's
// and test's .drv file to the store (--read-write-mode), so that each can be realised
// afterwards. A rejected expression is an *EvalError; anything else that goes wrong is an
// infrastructure error.
func (n *Nix) Evaluate(ctx context.Context, checkoutDir, system string) ([]graph.Package, error) {
	index := filepath.Join(checkoutDir, n.cfg.IndexFile)
	args := []string{n.instantiate, "--eval", "--json", "--strict", "--read-write-mode", index,
		"--argstr", "hostPath", n.cfg.BuilderPath}
	if system != "" {
		args = append(args, "--argstr", "system", system)
	}
	args = append(args, n.optionArgs()...)

	var stdout bytes.Buffer
	res := n.run(ctx, process{args: args, stdout: &stdout})
	if res.err != nil {
		if ctx.Err() != nil || res.exitCode != 1 || infrastructureFailure(res.tail) {
			return nil, fmt.Errorf("evaluate %s: %w", checkoutDir, commandError(args, res))
		}
		return nil, &EvalError{Dir: checkoutDir, System: system, ExitCode: res.exitCode, Tail: res.tail}
	}
	pkgs, err := decodeIndex(&stdout)
	if err != nil {
		return nil, &EvalError{Dir: checkoutDir, System: system, Tail: err.Error()}
	}
	return pkgs, nil
}

// infrastructureFailure tells whether a failed evaluation's output blames the machine rather
// than the expression.
func infrastructureFailure(out string) bool {
	for _, s := range []string{"cannot connect to", "Connection refused", "opening lock file",
		"No space left on device", "Too many open files", "database is locked", "SQLite database",
		"Cannot allocate memory", "out of memory"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// decodeIndex turns the index expression's JSON into packages, checking what Crest relies on:
// a key and a derivation per package, keys unique.
func decodeIndex(r *bytes.Buffer) ([]graph.Package, error) {
	var recs []indexRecord
	dec := json.NewDecoder(r)
	if err := dec.Decode(&recs); err != nil {
		return nil, fmt.Errorf("error: the index is not a JSON list of packages: %w", err)
	}
	pkgs := make([]graph.Package, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	var errs []error
	for i, rec := range recs {
		switch {
		case rec.Attr == "":
			errs = append(errs, fmt.Errorf("error: index record %d has no attr", i))
			continue
		case rec.Drv == "":
			errs = append(errs, fmt.Errorf("error: package %s has no drv", rec.Attr))
			continue
		case seen[rec.Attr]:
			errs = append(errs, fmt.Errorf("error: package %s is listed twice", rec.Attr))
			continue
		}
		seen[rec.Attr] = true
		name := rec.Name
		if name == "" {
			name = rec.Attr
		}
		pkgs = append(pkgs, graph.Package{
			Key:         rec.Attr,
			Name:        name,
			Version:     rec.Version,
			System:      rec.System,
			Drv:         rec.Drv,
			Deps:        rec.Deps,
			Tests:       rec.Tests,
			Maintainers: rec.Maintainers,
			Broken:      rec.Broken,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Key < pkgs[j].Key })
	return pkgs, nil
}
