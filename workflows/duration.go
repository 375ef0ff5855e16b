package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crestwaves/crest/policy"
)

// Duration is a time.Duration that reads and writes as text in JSON, so workflow inputs
// stay typeable in the Web UI. It reads the one duration syntax of Crest, policy's ("90m",
// "36h", "7d", "1d12h"), and writes Go notation, which every version of Crest reads.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string (policy.ParseDuration) or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: want a string like \"90m\", \"36h\" or \"7d\"")
		}
		*d = Duration(n)
		return nil
	}
	v, err := policy.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
