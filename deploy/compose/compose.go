package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Project is a compose file, interpolated and decoded.
type Project struct {
	// Dir is the file's directory: relative bind mounts and build contexts start there.
	Dir      string
	Name     string
	Services map[string]*Service
	// Volumes are the named volumes (their options: none is supported).
	Volumes map[string]*Volume
	Secrets map[string]*Secret
}

// Service is one service, with the fields Crest's compose file uses; any other is an
// error at Load.
type Service struct {
	Image       string                `yaml:"image"`
	Build       *Build                `yaml:"build"`
	Command     []string              `yaml:"command"`
	Entrypoint  []string              `yaml:"entrypoint"`
	Environment map[string]string     `yaml:"environment"`
	Volumes     []string              `yaml:"volumes"`
	DependsOn   map[string]Dependency `yaml:"depends_on"`
	Restart     string                `yaml:"restart"`
	Healthcheck *Healthcheck          `yaml:"healthcheck"`
	Ports       []string              `yaml:"ports"`
	Secrets     []string              `yaml:"secrets"`
	Deploy      *Deploy               `yaml:"deploy"`
	User        string                `yaml:"user"`
	WorkingDir  string                `yaml:"working_dir"`
}

// Build is how a service's image is built.
type Build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// Dependency is a long-syntax depends_on entry.
type Dependency struct {
	// Condition is service_started, service_healthy or service_completed_successfully.
	Condition string `yaml:"condition"`
}

// Healthcheck is a service's health check.
type Healthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

// Deploy is a service's replicas and resources.
type Deploy struct {
	Replicas  *int `yaml:"replicas"`
	Resources *struct {
		Limits       map[string]string `yaml:"limits"`
		Reservations map[string]string `yaml:"reservations"`
	} `yaml:"resources"`
}

// Volume is a named volume; Crest's file sets no options on one.
type Volume struct{}

// Secret is a top-level secret: from the environment (.env) or a file.
type Secret struct {
	Environment string `yaml:"environment"`
	File        string `yaml:"file"`
}

// Replicas is how many containers the service runs (deploy.replicas, default 1).
func (s *Service) Replicas() int {
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		return *s.Deploy.Replicas
	}
	return 1
}

// file is the top level; x-… keys (anchors for merge keys) land in Extensions.
type file struct {
	Name       string              `yaml:"name"`
	Services   map[string]*Service `yaml:"services"`
	Volumes    map[string]*Volume  `yaml:"volumes"`
	Secrets    map[string]*Secret  `yaml:"secrets"`
	Extensions map[string]any      `yaml:",inline"`
}

// Load reads a compose file, interpolating ${…} from vars (an .env's variables) in every
// value, and decodes it strictly.
func Load(path string, vars map[string]string) (*Project, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := interpolateNode(&doc, vars); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Decode what was interpolated, strictly: re-encoding keeps anchors and aliases, so
	// that merge keys resolve as in the file.
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var bad []string
	for k := range f.Extensions {
		if !strings.HasPrefix(k, "x-") {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, fmt.Errorf("%s: unknown top-level keys %s", path, strings.Join(bad, ", "))
	}
	if len(f.Services) == 0 {
		return nil, fmt.Errorf("%s: no services", path)
	}
	for name, s := range f.Services {
		if s == nil {
			return nil, fmt.Errorf("%s: service %s is empty", path, name)
		}
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return &Project{Dir: abs, Name: f.Name, Services: f.Services, Volumes: f.Volumes, Secrets: f.Secrets}, nil
}

// interpolateNode interpolates every scalar value once: aliases point at their anchor's
// node, which is reached (and interpolated) on its own.
func interpolateNode(n *yaml.Node, vars map[string]string) error {
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.AliasNode:
			return
		case yaml.ScalarNode:
			v, err := Interpolate(n.Value, vars)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %w", n.Line, err))
				return
			}
			n.Value = v
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 { // values only, as compose does
				walk(n.Content[i])
			}
		default:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(n)
	return errors.Join(errs...)
}

// Mount is one entry of a service's volumes (short syntax).
type Mount struct {
	// Source is a named volume, a path relative to the project's directory (./…) or
	// absolute (a bind mount), or "" for an anonymous volume.
	Source   string
	Target   string
	ReadOnly bool
}

// Bind tells whether the mount is a bind mount of a host path.
func (m Mount) Bind() bool {
	return strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/")
}

// Mounts parses the service's volumes: source:target[:ro|rw], or target alone (an
// anonymous volume, the container's own).
func (s *Service) Mounts() ([]Mount, error) {
	var out []Mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		var m Mount
		switch len(parts) {
		case 1:
			m.Target = parts[0]
		case 2, 3:
			m.Source, m.Target = parts[0], parts[1]
			if len(parts) == 3 {
				switch parts[2] {
				case "ro":
					m.ReadOnly = true
				case "rw":
				default:
					return nil, fmt.Errorf("volume %q: mode %q (ro or rw)", v, parts[2])
				}
			}
		default:
			return nil, fmt.Errorf("volume %q: not source:target[:mode]", v)
		}
		if !strings.HasPrefix(m.Target, "/") {
			return nil, fmt.Errorf("volume %q: the target must be an absolute path", v)
		}
		out = append(out, m)
	}
	return out, nil
}
