package graph

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyMode says which field of a record becomes Package.Key.
type KeyMode string

// Key modes for ReadOptions.
const (
	// KeyAuto decides from the first record: "key" (Crest's own records), else "id" (Nix
	// derivation ids), else "name" (Debian source packages).
	KeyAuto KeyMode = "auto"
	// KeyID keys by the "id" field; every record must have one.
	KeyID KeyMode = "id"
	// KeyName keys by the "name" field. On records that also carry ids (Nix), dependencies
	// are translated from ids to names. Crest's own records are keyed by "key" in every mode
	// but KeyID, which they cannot satisfy.
	KeyName KeyMode = "name"
)

// ParseKeyMode accepts "auto", "id" or "name" ("" means auto).
func ParseKeyMode(s string) (KeyMode, error) {
	switch KeyMode(s) {
	case "", KeyAuto:
		return KeyAuto, nil
	case KeyID, KeyName:
		return KeyMode(s), nil
	}
	return "", fmt.Errorf("key mode %q: want auto, id or name", s)
}

// ReadOptions configures ReadPackages.
type ReadOptions struct {
	Key KeyMode // "" means KeyAuto
}

// record is the union of the record formats ReadPackages understands: Crest's own
// (graph.Package), the recorded Nixpkgs graphs and the recorded Debian graph.
type record struct {
	Key         *string   `json:"key"`
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	PName       string    `json:"pname"`
	Attr        *string   `json:"attr"`
	Version     string    `json:"version"`
	System      string    `json:"system"`
	Drv         string    `json:"drv"`
	Deps        []string  `json:"deps"`
	Tests       []Test    `json:"tests"`
	Maintainers []string  `json:"maintainers"`
	Broken      bool      `json:"broken"`
	Cost        CostHints `json:"cost"`
	// Recorded graphs put the cost hints at the top level.
	BuildSeconds float64 `json:"build_seconds"`
	SourceBytes  int64   `json:"source_bytes"`
	InstalledKB  int64   `json:"installed_kb"`
	BigParallel  bool    `json:"big_parallel"`
}

// ReadPackages reads one package per line (JSON Lines), plain or gzip-compressed (detected
// from the first bytes, so callers need not trust file names). It understands Crest's own
// records (written by WritePackages) and the recorded Nixpkgs and Debian graphs:
//
//   - Nix: Key = id (the derivation's "<hash>-<name>", also its Drv), Name = pname,
//     Attr = attr, Version, Cost.BuildSeconds, Cost.BigParallel.
//   - Debian: Key = name (the source package), Name = name, Version,
//     Cost.SourceBytes/InstalledKB/BuildSeconds. Debian has no derivation identity, so Drv
//     stays empty.
//
// Blank lines are skipped. It checks nothing about the graph: New does.
func ReadPackages(r io.Reader, opts ReadOptions) ([]Package, error) {
	mode, err := ParseKeyMode(string(opts.Key))
	if err != nil {
		return nil, fmt.Errorf("read packages: %w", err)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read packages: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}

	var (
		pkgs    []Package
		ids     []string // per package, the record's id (for KeyName over Nix records)
		crest   bool
		decided bool
		line    int
	)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if b = bytes.TrimSpace(b); len(b) > 0 {
				var rec record
				if err := json.Unmarshal(b, &rec); err != nil {
					return nil, fmt.Errorf("read packages: line %d: %w", line, err)
				}
				if !decided {
					decided = true
					crest = rec.Key != nil
					if mode == KeyAuto {
						mode = KeyName
						if !crest && rec.ID != "" {
							mode = KeyID
						}
					}
				}
				p, err := rec.toPackage(mode, crest)
				if err != nil {
					return nil, fmt.Errorf("read packages: line %d: %w", line, err)
				}
				pkgs = append(pkgs, p)
				ids = append(ids, rec.ID)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read packages: line %d: %w", line+1, err)
		}
	}
	if mode == KeyName && !crest {
		translateIDs(pkgs, ids)
	}
	return pkgs, nil
}

func (rec *record) toPackage(mode KeyMode, crest bool) (Package, error) {
	if crest {
		p := Package{
			Name: rec.Name, Version: rec.Version, System: rec.System, Drv: rec.Drv,
			Deps: rec.Deps, Tests: rec.Tests, Maintainers: rec.Maintainers, Broken: rec.Broken,
			Cost: rec.Cost,
		}
		if rec.Key != nil {
			p.Key = *rec.Key
		}
		if rec.Attr != nil {
			p.Attr = *rec.Attr
		}
		if mode == KeyID {
			return p, errors.New(`crest records have no "id": use key mode auto or name`)
		}
		if p.Key == "" {
			return p, errors.New("record has no key")
		}
		return p, nil
	}
	p := Package{
		Name:    rec.Name,
		Version: rec.Version,
		Deps:    rec.Deps,
		Cost: CostHints{
			BuildSeconds: rec.BuildSeconds,
			SourceBytes:  rec.SourceBytes,
			InstalledKB:  rec.InstalledKB,
			BigParallel:  rec.BigParallel,
		},
	}
	if rec.PName != "" {
		p.Name = rec.PName
	}
	if rec.Attr != nil {
		p.Attr = *rec.Attr
	}
	if rec.ID != "" {
		p.Drv = rec.ID // the recorded Nix id is the derivation's store name
	}
	switch mode {
	case KeyID:
		if rec.ID == "" {
			return p, errors.New(`record has no "id" (key mode id)`)
		}
		p.Key = rec.ID
	default:
		if rec.Name == "" {
			return p, errors.New(`record has no "name" (key mode name)`)
		}
		p.Key = rec.Name
	}
	return p, nil
}

// translateIDs rewrites dependencies given as record ids into the keys (names) of those
// records; dependencies that are not ids of any record are left for New to report.
func translateIDs(pkgs []Package, ids []string) {
	byID := make(map[string]string, len(ids))
	for i, id := range ids {
		if id != "" {
			byID[id] = pkgs[i].Key
		}
	}
	if len(byID) == 0 {
		return
	}
	for i := range pkgs {
		for j, d := range pkgs[i].Deps {
			if k, ok := byID[d]; ok {
				pkgs[i].Deps[j] = k
			}
		}
	}
}

// WritePackages writes pkgs as Crest's own records, one JSON object per line, in the order
// given: the format ReadPackages reads back and evaluations are stored in.
func WritePackages(w io.Writer, pkgs []Package) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range pkgs {
		if err := enc.Encode(&pkgs[i]); err != nil {
			return fmt.Errorf("write package %s: %w", pkgs[i].Key, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write packages: %w", err)
	}
	return nil
}

// Load reads packages with ReadPackages and builds the graph with New: the one call a
// command needs.
func Load(r io.Reader, ropts ReadOptions, opts Options) (*Graph, *Report, error) {
	pkgs, err := ReadPackages(r, ropts)
	if err != nil {
		return nil, nil, err
	}
	g, rep, err := New(pkgs, opts)
	if err != nil {
		return nil, rep, fmt.Errorf("load graph: %w", err)
	}
	return g, rep, nil
}

// String summarizes a report in one line, for progress output.
func (r *Report) String() string {
	s := fmt.Sprintf("%d packages, %d edges", r.Packages, r.Edges)
	var dropped []string
	if n := len(r.UnknownDeps); n > 0 {
		dropped = append(dropped, fmt.Sprintf("%d unknown %s", n, plural(n, "dependency", "dependencies")))
	}
	if n := len(r.Duplicates); n > 0 {
		dropped = append(dropped, fmt.Sprintf("%d duplicate %s", n, plural(n, "key", "keys")))
	}
	if n := len(r.SelfEdges); n > 0 {
		dropped = append(dropped, fmt.Sprintf("%d %s", n, plural(n, "self-edge", "self-edges")))
	}
	if len(dropped) > 0 {
		s += " (dropped " + strings.Join(dropped, ", ") + ")"
	}
	return s
}
