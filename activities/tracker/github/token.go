package github

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Token is a GitHub access token (a personal access token or an installation token).
// It prints, logs and marshals as "[redacted]", so a Config can be logged or dumped
// without leaking it; only the adapter reads the value.
type Token string

// String implements fmt.Stringer.
func (Token) String() string { return redacted }

// Format implements fmt.Formatter for every verb, %#v and %x included.
func (Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, TOML, flags).
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
