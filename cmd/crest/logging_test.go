package main

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpectedBuildFailuresAreNotLoggedAsErrors(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(expectedFailures{slog.NewTextHandler(&buf, nil)}).With("Namespace", "default")
	l.Error("Activity error.", "Error", "build of tetrix failed (type: BuildFailed, retryable: false)")
	l.Error("Activity error.", "Error", "tests of calc failed (type: TestFailed, retryable: false)")
	require.Empty(t, buf.String())
	l.Error("Activity error.", "Error", "connect: connection refused (type: wrapError, retryable: true)")
	l.Error("Workflow panic", "Error", "type: BuildFailed, but elsewhere")
	require.Contains(t, buf.String(), "connection refused")
	require.Contains(t, buf.String(), "Workflow panic")
}
