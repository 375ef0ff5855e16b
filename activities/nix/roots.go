package nix

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// rootsPerCommand bounds the paths one nix-store command roots, to stay far below the
// kernel's limit on a command line.
const rootsPerCommand = 1000

// Roots is what AddRoots did.
type Roots struct {
	// Rooted are the paths now rooted, with their closures.
	Rooted []string `json:"rooted"`
	// Missing are the paths neither in the store nor in the cache: nothing keeps them, and a
	// machine that needs them must build them again.
	Missing []string `json:"missing,omitempty"`
}

// AddRoots makes paths garbage-collector roots of the store: indirect roots dir/out-K…
// (Nix links them from its gcroots/auto), so that their closures survive every collection
// until dir is removed. Paths the store lacks are substituted from the cache first; those
// found nowhere are reported Missing, not an error. Rooting into dir again replaces what
// it held.
func (n *Nix) AddRoots(ctx context.Context, dir string, paths []string) (Roots, error) {
	paths = slices.Compact(slices.Sorted(slices.Values(paths)))
	invalid, err := n.Invalid(ctx, paths)
	if err != nil {
		return Roots{}, err
	}
	if len(invalid) > 0 && n.cfg.Cache.Enabled() {
		// Substitute what can be; what cannot is found invalid again below.
		for chunk := range slices.Chunk(invalid, rootsPerCommand) {
			args := append(append([]string{n.store, "--realise", "--keep-going"}, chunk...), n.optionArgs()...)
			if res := n.run(ctx, process{args: args}); res.err != nil && ctx.Err() != nil {
				return Roots{}, ctx.Err()
			}
		}
		if invalid, err = n.Invalid(ctx, invalid); err != nil {
			return Roots{}, err
		}
	}
	missing := map[string]bool{}
	for _, p := range invalid {
		missing[p] = true
	}
	out := Roots{Missing: invalid}
	for _, p := range paths {
		if !missing[p] {
			out.Rooted = append(out.Rooted, p)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return Roots{}, fmt.Errorf("roots: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Roots{}, fmt.Errorf("roots: %w", err)
	}
	k := 0
	for chunk := range slices.Chunk(out.Rooted, rootsPerCommand) {
		k++
		root := filepath.Join(dir, "out-"+strconv.Itoa(k))
		args := append(append([]string{n.store, "--realise", "--add-root", root, "--indirect"}, chunk...), n.optionArgs()...)
		if res := n.run(ctx, process{args: args}); res.err != nil {
			return Roots{}, fmt.Errorf("root %d paths in %s: %w", len(chunk), dir, commandError(args, res))
		}
	}
	return out, nil
}

// Invalid returns the paths of paths that are not valid in the store.
func (n *Nix) Invalid(ctx context.Context, paths []string) ([]string, error) {
	var invalid []string
	for chunk := range slices.Chunk(paths, rootsPerCommand) {
		var stdout bytes.Buffer
		args := append(append([]string{n.store, "--check-validity", "--print-invalid"}, chunk...), n.optionArgs()...)
		if res := n.run(ctx, process{args: args, stdout: &stdout}); res.err != nil {
			return nil, fmt.Errorf("validity of %d paths: %w", len(chunk), commandError(args, res))
		}
		invalid = append(invalid, strings.Fields(stdout.String())...)
	}
	return invalid, nil
}

// CollectGarbage deletes every store path no root keeps (nix-store --gc) and returns Nix's
// summary ("N store paths deleted, M MiB freed").
func (n *Nix) CollectGarbage(ctx context.Context) (string, error) {
	args := append([]string{n.store, "--gc"}, n.optionArgs()...)
	var stdout bytes.Buffer
	res := n.run(ctx, process{args: args, stdout: &stdout})
	if res.err != nil {
		return "", fmt.Errorf("collect garbage: %w", commandError(args, res))
	}
	for _, line := range strings.Split(res.tail+"\n"+stdout.String(), "\n") {
		if strings.Contains(line, "store paths deleted") {
			return strings.TrimSpace(line), nil
		}
	}
	return lastErrorLine(res.tail + stdout.String()), nil
}
