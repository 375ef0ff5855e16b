package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"go.temporal.io/sdk/log"

	"github.com/crestwaves/crest/activities/wire"
)

// newSDKLogger is the Temporal SDK's logger: warnings and errors on stderr, except the
// worker's report of an activity that failed with a build or test failure — an expected
// outcome Crest records and shows, not an error of Crest's.
func newSDKLogger(*Config) log.Logger {
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	return log.NewStructuredLogger(slog.New(expectedFailures{h}))
}

type expectedFailures struct{ slog.Handler }

func (h expectedFailures) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "Activity error." {
		expected := false
		r.Attrs(func(a slog.Attr) bool {
			v := a.Value.String()
			if strings.Contains(v, "type: "+wire.ErrBuildFailed+",") || strings.Contains(v, "type: "+wire.ErrTestFailed+",") {
				expected = true
				return false
			}
			return true
		})
		if expected {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h expectedFailures) WithAttrs(attrs []slog.Attr) slog.Handler {
	return expectedFailures{h.Handler.WithAttrs(attrs)}
}

func (h expectedFailures) WithGroup(name string) slog.Handler {
	return expectedFailures{h.Handler.WithGroup(name)}
}
