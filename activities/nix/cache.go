package nix

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Cache is a binary cache that builders share: a builder substitutes from it what another
// built, and pushes what it built, signed. URL is any Nix store URI (file:///var/cache/crest,
// s3://bucket?region=…, ssh-ng://cache-host); the zero Cache means none.
type Cache struct {
	// URL is where paths are pushed and substituted from.
	URL string `json:"url"`
	// PublicKey ("name:base64") is trusted for paths substituted from URL; paths signed
	// otherwise are refused (and built instead).
	PublicKey string `json:"public_key"`
	// SecretKey ("name:base64", from nix-store --generate-binary-cache-key) signs what this
	// machine pushes. Without it, the machine only substitutes (a tag host, say).
	SecretKey SecretKey `json:"-"`
}

// Enabled tells whether a cache is configured.
func (c Cache) Enabled() bool { return c.URL != "" }

// CanPush tells whether this machine pushes to the cache: it holds the secret key.
func (c Cache) CanPush() bool { return c.URL != "" && c.SecretKey != "" }

// SecretKey is a binary cache's secret signing key. It prints, logs and marshals as
// "[redacted]", so a Config can be printed without leaking it; only Push reads the value,
// which reaches Nix on a pipe (--key-file /dev/stdin), never on a command line or in a file.
type SecretKey string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (SecretKey) String() string { return redacted }

// Format implements fmt.Formatter for every verb, %#v and %x included.
func (SecretKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (SecretKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (SecretKey) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, TOML, flags).
func (SecretKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// parseKey splits a Nix signing key "name:base64" and checks its size. Its errors never
// quote the key.
func parseKey(what, key string, size int) (string, []byte, error) {
	name, b64, ok := strings.Cut(strings.TrimSpace(key), ":")
	if !ok || name == "" {
		return "", nil, fmt.Errorf("%s is not a Nix key (name:base64, from nix-store --generate-binary-cache-key)", what)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != size {
		return "", nil, fmt.Errorf("%s %q is not a Nix key: its key part is not %d bytes of base64", what, name, size)
	}
	return name, raw, nil
}

// Check tells what is wrong with a cache's settings: a URL without a public key (every
// substitution would be refused), malformed keys, or a secret key that is not the public
// key's pair (what this machine pushes would be refused by every other). Errors name keys
// by their names only.
func (c Cache) Check() error {
	if c.URL == "" {
		if c.PublicKey != "" || c.SecretKey != "" {
			return errors.New("cache keys are set but the cache URL is not")
		}
		return nil
	}
	if strings.TrimSpace(c.PublicKey) == "" {
		return errors.New("cache public key is required with a cache URL: builders refuse unsigned paths")
	}
	pubName, pub, err := parseKey("cache public key", c.PublicKey, ed25519.PublicKeySize)
	if err != nil {
		return err
	}
	if c.SecretKey == "" {
		return nil
	}
	secName, sec, err := parseKey("cache secret key", string(c.SecretKey), ed25519.PrivateKeySize)
	if err != nil {
		return err
	}
	if secName != pubName || !bytes.Equal(ed25519.PrivateKey(sec).Public().(ed25519.PublicKey), pub) {
		return fmt.Errorf("cache secret key %q does not match public key %q: paths it signs would be refused", secName, pubName)
	}
	return nil
}

// GenerateKey makes a signing key pair named name (by convention the cache's host name and
// a number, such as cache.example.org-1), in the format of nix-store
// --generate-binary-cache-key: "name:base64" of the Ed25519 public key and of the 64-byte
// secret key (seed and public key).
func GenerateKey(name string) (publicKey string, secretKey SecretKey, err error) {
	if name == "" || strings.ContainsAny(name, ": \t\n") {
		return "", "", fmt.Errorf("key name %q must be non-empty, without colons or spaces", name)
	}
	pub, sec, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	return name + ":" + base64.StdEncoding.EncodeToString(pub), SecretKey(name + ":" + base64.StdEncoding.EncodeToString(sec)), nil
}

// options are the settings that make Nix substitute from the cache and trust its key.
// Negative lookups are not remembered: a path another builder has not pushed yet may be
// there at the next build, and Nix would otherwise believe it missing for an hour.
func (c Cache) options() []Option {
	if !c.Enabled() {
		return nil
	}
	return []Option{
		{Name: "substituters", Value: c.URL},
		{Name: "trusted-public-keys", Value: strings.TrimSpace(c.PublicKey)},
		{Name: "narinfo-cache-negative-ttl", Value: "0"},
	}
}

// Push signs paths and their closures with the cache's secret key and copies them to the
// cache, so that other builders and the tag host substitute them instead of building. Paths
// already in the cache are not copied again, so pushing twice is cheap. Without a cache, or
// without the secret key, it does nothing.
func (n *Nix) Push(ctx context.Context, paths []string, opts RealiseOptions) error {
	if !n.cfg.Cache.CanPush() || len(paths) == 0 {
		return nil
	}
	p := process{onLine: opts.OnLine, beat: opts.Heartbeat, beatTick: opts.HeartbeatEvery}
	p.args = append(append(n.nixCommand("store sign", "--key-file", "/dev/stdin", "--recursive"), paths...), n.optionArgs()...)
	p.stdin = strings.NewReader(strings.TrimSpace(string(n.cfg.Cache.SecretKey)) + "\n")
	if res := n.run(ctx, p); res.err != nil {
		return fmt.Errorf("sign %d paths: %w", len(paths), commandError(p.args, res))
	}
	p.stdin = nil
	p.args = append(append(n.nixCommand("copy", "--to", n.cfg.Cache.URL), paths...), n.optionArgs()...)
	if res := n.run(ctx, p); res.err != nil {
		return fmt.Errorf("push %d paths to the cache: %w", len(paths), commandError(p.args, res))
	}
	return nil
}

// nixCommand starts a command line of the nix command (sub is its subcommand, such as
// "store sign"), whose subcommands Nix 2.8 calls experimental. The subcommand comes first so
// that a CommandError names it.
func (n *Nix) nixCommand(sub string, args ...string) []string {
	cmd := append([]string{n.nix}, strings.Fields(sub)...)
	return append(append(cmd, "--extra-experimental-features", "nix-command"), args...)
}
