package tracker

import (
	"fmt"
	"strings"
)

// markerPrefix starts every hidden marker Crest writes, so that a reader can tell
// Crest's comments from people's.
const markerPrefix = "<!-- crest:"

// MaxKeyLen bounds fingerprints and comment keys so that markers stay small.
const MaxKeyLen = 200

// FingerprintMarker returns the hidden HTML comment that ties an issue body to its
// fingerprint, e.g. "<!-- crest:fingerprint=3f2a… -->". Trackers that store text only
// (GitHub) find an issue again by this marker.
func FingerprintMarker(fingerprint string) string {
	return markerPrefix + "fingerprint=" + fingerprint + " -->"
}

// CommentMarker returns the hidden HTML comment that ties a comment to its key.
func CommentMarker(key string) string {
	return markerPrefix + "comment=" + key + " -->"
}

// HasMarker reports whether text carries any Crest marker, i.e. Crest wrote it.
func HasMarker(text string) bool {
	return strings.Contains(text, markerPrefix)
}

// ValidateKey checks a fingerprint or comment key: 1 to MaxKeyLen characters from
// [A-Za-z0-9._:/@+=-], without "--" (which would end an HTML comment early).
// The error matches ErrInvalid.
func ValidateKey(what, key string) error {
	bad := func(why string) error {
		return &Error{Op: "validate", Kind: ErrInvalid, Message: fmt.Sprintf("%s %q: %s", what, key, why)}
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	case strings.Contains(key, "--"):
		return bad(`contains "--"`)
	}
	for _, r := range key {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._:/@+=-", r)
		if !ok {
			return bad(fmt.Sprintf("character %q not allowed", r))
		}
	}
	return nil
}
