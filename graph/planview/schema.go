package planview

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SchemaFields documents the JSON that JSON writes, field by field, as JSON types
// ("string", "number", "array", "object", "boolean"); nested objects are listed by path. It
// is both the documentation and what ValidateSchema checks, so they cannot drift apart.
var SchemaFields = map[string]string{
	"schema":      "string",
	"wave":        "number",
	"builders":    "number",
	"updates":     "array",
	"locked":      "array",
	"minor_waves": "array",
	"totals":      "object",

	"minor_waves[].id":                    "string",
	"minor_waves[].updates":               "array",
	"minor_waves[].reason":                "string?", // present only when several updates travel together
	"minor_waves[].rebuild":               "array",
	"minor_waves[].builds":                "number",
	"minor_waves[].tests":                 "number",
	"minor_waves[].cost_seconds":          "number",
	"minor_waves[].critical_path_seconds": "number",
	"minor_waves[].critical_path":         "array",
	"minor_waves[].after":                 "array",
	"minor_waves[].start_seconds":         "number",
	"minor_waves[].finish_seconds":        "number",

	"totals.builds":                "number",
	"totals.cost_seconds":          "number",
	"totals.critical_path_seconds": "number",
	"totals.wall_seconds":          "number",

	"rebuild_per_update":                       "object",
	"rebuild_per_update.builds":                "number",
	"rebuild_per_update.cost_seconds":          "number",
	"rebuild_per_update.critical_path_seconds": "number",
	"rebuild_per_update.wall_seconds":          "number",

	"staging_batch":                       "object",
	"staging_batch.builds":                "number",
	"staging_batch.cost_seconds":          "number",
	"staging_batch.critical_path_seconds": "number",
	"staging_batch.wall_seconds":          "number",
}

// ValidateSchema checks a JSON plan against SchemaFields: every field present with its type
// (optional ones, marked "?", may be missing), arrays of strings where keys are listed, and
// no field the schema does not name. Consumers of `crest plan --format json` can run it in
// their own tests.
func ValidateSchema(raw []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("plan json: %w", err)
	}
	if doc["schema"] != Schema {
		return fmt.Errorf("plan json: schema %v, want %s", doc["schema"], Schema)
	}
	var problems []string
	check := func(prefix string, obj map[string]any) {
		for name, v := range obj {
			path := prefix + name
			want, ok := SchemaFields[path]
			if !ok {
				problems = append(problems, "undocumented field "+path)
				continue
			}
			if got := jsonType(v); got != strings.TrimSuffix(want, "?") {
				problems = append(problems, fmt.Sprintf("%s is %s, want %s", path, got, want))
			}
			if arr, ok := v.([]any); ok && path != "minor_waves" {
				for _, e := range arr {
					if _, ok := e.(string); !ok {
						problems = append(problems, path+" holds a non-string")
					}
				}
			}
		}
		for path, want := range SchemaFields {
			rest, ok := strings.CutPrefix(path, prefix)
			if !ok || strings.ContainsAny(rest, ".[") || strings.HasSuffix(want, "?") {
				continue
			}
			if _, ok := obj[rest]; !ok {
				problems = append(problems, "missing field "+path)
			}
		}
	}
	check("", doc)
	for _, key := range []string{"totals", "rebuild_per_update", "staging_batch"} {
		if obj, ok := doc[key].(map[string]any); ok {
			check(key+".", obj)
		}
	}
	if waves, ok := doc["minor_waves"].([]any); ok {
		for _, w := range waves {
			obj, ok := w.(map[string]any)
			if !ok {
				problems = append(problems, "minor_waves holds a non-object")
				continue
			}
			check("minor_waves[].", obj)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		problems = slices.Compact(problems)
		return fmt.Errorf("plan json does not match %s: %s", Schema, strings.Join(problems, "; "))
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "unknown"
}
