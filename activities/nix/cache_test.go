package nix_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/nix"
)

func TestCacheCheck(t *testing.T) {
	t.Parallel()
	pub, sec, err := nix.GenerateKey("cache.example-1")
	require.NoError(t, err)
	otherPub, otherSec, err := nix.GenerateKey("cache.example-1")
	require.NoError(t, err)
	_, renamedSec, err := nix.GenerateKey("other-1")
	require.NoError(t, err)
	const url = "file:///var/cache/crest"
	for _, tc := range []struct {
		name  string
		cache nix.Cache
		want  string // "" is valid
	}{
		{"none", nix.Cache{}, ""},
		{"substitute only", nix.Cache{URL: url, PublicKey: pub}, ""},
		{"push and substitute", nix.Cache{URL: url, PublicKey: pub, SecretKey: sec}, ""},
		{"keys without URL", nix.Cache{PublicKey: pub}, "cache URL is not"},
		{"URL without public key", nix.Cache{URL: url, SecretKey: sec}, "public key is required"},
		{"public key not a key", nix.Cache{URL: url, PublicKey: "cache.example-1"}, "is not a Nix key"},
		{"public key too short", nix.Cache{URL: url, PublicKey: "cache.example-1:AAAA"}, "not 32 bytes"},
		{"secret key given as public", nix.Cache{URL: url, PublicKey: string(sec)}, "not 32 bytes"},
		{"secret key not a key", nix.Cache{URL: url, PublicKey: pub, SecretKey: "garbage"}, "is not a Nix key"},
		{"public key given as secret", nix.Cache{URL: url, PublicKey: pub, SecretKey: nix.SecretKey(pub)}, "not 64 bytes"},
		{"keys of two pairs", nix.Cache{URL: url, PublicKey: otherPub, SecretKey: sec}, "does not match"},
		{"pair renamed", nix.Cache{URL: url, PublicKey: pub, SecretKey: renamedSec}, "does not match"},
	} {
		err := tc.cache.Check()
		if tc.want == "" {
			require.NoError(t, err, tc.name)
			continue
		}
		require.ErrorContains(t, err, tc.want, tc.name)
		for _, s := range []nix.SecretKey{sec, otherSec, renamedSec} {
			_, b64, _ := strings.Cut(string(s), ":")
			require.NotContains(t, err.Error(), b64, "%s: the error quotes a secret key", tc.name)
		}
	}
	_, err = nix.New(nix.Config{Cache: nix.Cache{URL: url, PublicKey: otherPub, SecretKey: sec}})
	require.ErrorContains(t, err, "does not match", "New refuses what Check refuses")
}

func TestSecretKeyNeverPrints(t *testing.T) {
	t.Parallel()
	pub, sec, err := nix.GenerateKey("cache.example-1")
	require.NoError(t, err)
	cfg := nix.Config{Cache: nix.Cache{URL: "file:///c", PublicKey: pub, SecretKey: sec}}
	_, b64, _ := strings.Cut(string(sec), ":")
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "key", sec, "cfg", cfg)
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%q", sec),
		fmt.Sprintf("%x", sec), fmt.Sprintf("%s", sec), string(js), logged.String()} {
		require.NotContains(t, s, b64)
	}
	require.Contains(t, string(js), pub, "the public key is no secret")
}

// cacheKeys is a key pair for a test cache.
type cacheKeys struct {
	pub string
	sec nix.SecretKey
}

func newKeys(t testing.TB, name string) cacheKeys {
	t.Helper()
	pub, sec, err := nix.GenerateKey(name)
	require.NoError(t, err)
	return cacheKeys{pub, sec}
}

// storeOf is an adapter whose Nix commands see a store of their own, empty at first, under
// dir: a builder on another machine.
func storeOf(t testing.TB, dir string, cache nix.Cache) *nix.Nix {
	t.Helper()
	return newNix(t, nix.Config{StoreRoot: dir, Cache: cache})
}

// narinfo is the cache's record of a store path.
func narinfo(cacheDir, path string) string {
	hash, _, _ := strings.Cut(strings.TrimPrefix(path, "/nix/store/"), "-")
	return filepath.Join(cacheDir, hash+".narinfo")
}

// TestCacheCarriesWhatOneStoreBuiltToAnother: a builder with a store of its own pushes
// libjson, signed; another builder, its store empty, builds jsonfmt (built with libjson)
// and fetches libjson and what it needs from the cache instead of building them: it builds
// exactly one derivation. Builders that do not trust the key the paths were signed with,
// or that find a signature broken, refuse them and build everything themselves.
func TestCacheCarriesWhatOneStoreBuiltToAnother(t *testing.T) {
	t.Parallel()
	e := demoMain(t)
	ctx := context.Background()
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	keys := newKeys(t, "crest-test-1")
	cache := nix.Cache{URL: "file://" + cacheDir, PublicKey: keys.pub, SecretKey: keys.sec}
	libjson, jsonfmt := e.byKey["libjson"], e.byKey["jsonfmt"]
	require.Contains(t, jsonfmt.Deps, "libjson")

	// Builder A: evaluates (its own store holds nothing yet), builds libjson, pushes it.
	a := storeOf(t, filepath.Join(dir, "a"), cache)
	pkgs, err := a.Evaluate(ctx, e.checkout, "")
	require.NoError(t, err)
	require.Equal(t, e.pkgs, pkgs, "the same commit gives the same derivations in every store")
	built, err := a.Realise(ctx, libjson.Drv, nix.RealiseOptions{})
	require.NoError(t, err)
	require.Contains(t, built.Built, libjson.Drv)
	require.Greater(t, len(built.Built), 1, "A built libjson's dependencies too: its store was empty")
	require.Empty(t, built.Substituted, "the cache was empty")
	// What a builder pushes: the outputs, and those of what it built on the way (stdenv:
	// not in libjson's closure, but jsonfmt is built with it).
	deps, err := a.ValidOutputs(ctx, built.Built)
	require.NoError(t, err)
	require.NoError(t, a.Push(ctx, append(built.Outputs, deps...), nix.RealiseOptions{}))
	info, err := os.ReadFile(narinfo(cacheDir, built.Outputs[0]))
	require.NoError(t, err, "libjson is in the cache")
	require.Regexp(t, regexp.MustCompile(`(?m)^Sig: crest-test-1:`), string(info), "signed with the cache's key")
	require.NoError(t, a.Push(ctx, built.Outputs, nix.RealiseOptions{}), "pushing again is harmless")

	// Builder B: its store is empty, and derivations do not travel through the cache (they
	// are instantiated from the commit): realising an unknown derivation says so.
	b := storeOf(t, filepath.Join(dir, "b"), cache)
	_, err = b.Realise(ctx, jsonfmt.Drv, nix.RealiseOptions{})
	require.ErrorIs(t, err, nix.ErrUnknownDerivation)
	_, err = b.Evaluate(ctx, e.checkout, "")
	require.NoError(t, err)
	res, err := b.Realise(ctx, jsonfmt.Drv, nix.RealiseOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{jsonfmt.Drv}, res.Built, "B built jsonfmt and nothing else")
	require.Contains(t, res.Substituted, built.Outputs[0], "B fetched libjson")
	_, valid, err := b.Valid(ctx, libjson.Drv)
	require.NoError(t, err)
	require.True(t, valid, "libjson is valid in B's store without B building it")

	// C trusts another key: the cache's signatures mean nothing to it.
	other := newKeys(t, "crest-test-1")
	c := storeOf(t, filepath.Join(dir, "c"), nix.Cache{URL: cache.URL, PublicKey: other.pub})
	res = requireRefused(ctx, t, c, e.checkout, jsonfmt.Drv, libjson.Drv)
	require.Len(t, res.Built, len(built.Built)+1, "C built everything A built, and jsonfmt")

	// D trusts the key, but the cache's record of libjson was tampered with.
	tampered := filepath.Join(dir, "tampered")
	require.NoError(t, os.CopyFS(tampered, os.DirFS(cacheDir)))
	rec := narinfo(tampered, built.Outputs[0])
	text, err := os.ReadFile(rec)
	require.NoError(t, err)
	forged := regexp.MustCompile(`(?m)^(Sig: crest-test-1:)(.)`).ReplaceAllStringFunc(string(text), func(s string) string {
		if strings.HasSuffix(s, "A") {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	})
	require.NotEqual(t, string(text), forged)
	require.NoError(t, os.WriteFile(rec, []byte(forged), 0o644))
	d := storeOf(t, filepath.Join(dir, "d"), nix.Cache{URL: "file://" + tampered, PublicKey: keys.pub})
	res = requireRefused(ctx, t, d, e.checkout, jsonfmt.Drv, libjson.Drv)
	require.Equal(t, []string{libjson.Drv, jsonfmt.Drv}, res.Built, "D fetched the rest: their signatures hold")
}

// requireRefused evaluates checkout in n's store and realises drv, requiring that Nix
// refused the cache's copy of dep, saying why, and built it.
func requireRefused(ctx context.Context, t *testing.T, n *nix.Nix, checkout, drv, dep string) nix.Result {
	t.Helper()
	_, err := n.Evaluate(ctx, checkout, "")
	require.NoError(t, err)
	res, err := n.Realise(ctx, drv, nix.RealiseOptions{})
	require.NoError(t, err)
	require.True(t, slices.Contains(res.Built, dep), "%s was built, not fetched: %v", dep, res.Built)
	require.Contains(t, res.LogTail, "is not signed by any of the keys in 'trusted-public-keys'")
	return res
}
