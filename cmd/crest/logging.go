package main

import (
	"log/slog"
	"os"

	"go.temporal.io/sdk/log"
)

// newSDKLogger is the Temporal SDK's logger: warnings and errors on stderr.
func newSDKLogger(*Config) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
