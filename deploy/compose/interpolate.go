package compose

import (
	"fmt"
	"regexp"
	"strings"
)

// interpRE matches compose interpolation: $$ (a literal $), ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt} and $VAR.
var interpRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// Var is one use of a variable in a compose file.
type Var struct {
	Name string
	// Op is "", ":-", "-", ":?", "?", ":+" or "+".
	Op string
	// Arg is the default, the error message or the alternative.
	Arg string
}

// Required tells whether compose refuses to start without the variable (${VAR:?…}).
func (v Var) Required() bool { return strings.HasSuffix(v.Op, "?") }

// Vars lists the variables s uses, in order.
func Vars(s string) []Var {
	var out []Var
	for _, m := range interpRE.FindAllStringSubmatch(s, -1) {
		switch {
		case m[1] != "":
			out = append(out, Var{Name: m[1], Op: m[2], Arg: m[3]})
		case m[4] != "":
			out = append(out, Var{Name: m[4]})
		}
	}
	return out
}

// Interpolate substitutes variables the way compose does, vars being the environment (an
// .env's variables). A required variable that is unset (or empty, with ":?") is an error
// naming it, with the file's own message; the error never quotes a value.
func Interpolate(s string, vars map[string]string) (string, error) {
	var missing []string
	out := interpRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := interpRE.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		if name == "" {
			name = sub[4]
		}
		val, set := vars[name]
		switch op {
		case ":-":
			if val == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?", "?":
			if !set || (op == ":?" && val == "") {
				missing = append(missing, fmt.Sprintf("%s (%s)", name, arg))
			}
		case ":+":
			if val != "" {
				return arg
			}
			return ""
		case "+":
			if set {
				return arg
			}
			return ""
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("required variable not set: %s", strings.Join(missing, ", "))
	}
	return out, nil
}
