package chartstest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// Texts checks that svg is well-formed XML and returns the texts it shows, one <text>
// element a line, each line ending in a newline (so that a test can look for a whole
// label with Contains(texts, label+"\n")).
func Texts(t testing.TB, svg []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var text strings.Builder
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return text.String()
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				text.Write(tok)
				text.WriteByte('\n')
			}
		}
	}
}
