package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization these manifests use; decoding it
// strictly makes any other field a failure to look at.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string   `json:"namespace"`
	Resources       []string `json:"resources"`
	Images          []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// scaledObject is the part of KEDA's ScaledObject the optional autoscaler uses.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// k8sObject is one decoded document.
type k8sObject struct {
	file string
	obj  any
}

// newObject returns the typed object for a document's apiVersion and kind.
func newObject(tm metav1.TypeMeta) (any, error) {
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1/Job":
		return &batchv1.Job{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "kustomize.config.k8s.io/v1beta1/Kustomization":
		return &kustomization{}, nil
	case "keda.sh/v1alpha1/ScaledObject":
		return &scaledObject{}, nil
	}
	return nil, fmt.Errorf("no decoder for apiVersion %q kind %q: add it to newObject", tm.APIVersion, tm.Kind)
}

// decodeK8sFile decodes every document of a file strictly into its typed object.
func decodeK8sFile(path string) ([]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []any
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(probe) == 0 {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		obj, err := newObject(tm)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// k8sSet is every manifest under deploy/k8s, decoded.
type k8sSet struct {
	dir     string
	kust    *kustomization
	objects []k8sObject
	applied map[string]bool // files the kustomization applies
}

func loadK8s(t *testing.T) *k8sSet {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy", "k8s")
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	}))
	sort.Strings(files)
	s := &k8sSet{dir: dir, applied: map[string]bool{}}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		objs, err := decodeK8sFile(f)
		require.NoError(t, err, "deploy/k8s/%s", rel)
		require.NotEmpty(t, objs, "deploy/k8s/%s has no object", rel)
		for _, o := range objs {
			if k, ok := o.(*kustomization); ok {
				require.Nil(t, s.kust, "two Kustomizations")
				require.Equal(t, "kustomization.yaml", rel)
				s.kust = k
				continue
			}
			s.objects = append(s.objects, k8sObject{file: rel, obj: o})
		}
	}
	require.NotNil(t, s.kust, "deploy/k8s/kustomization.yaml")
	for _, r := range s.kust.Resources {
		s.applied[filepath.Clean(r)] = true
	}
	return s
}

func (s *k8sSet) configMaps() map[string]*corev1.ConfigMap {
	out := map[string]*corev1.ConfigMap{}
	for _, o := range s.objects {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok {
			out[cm.Name] = cm
		}
	}
	return out
}

// secrets are the Secret templates: the keys a Secret of that name must have.
func (s *k8sSet) secrets() map[string]*corev1.Secret {
	out := map[string]*corev1.Secret{}
	for _, o := range s.objects {
		if sec, ok := o.obj.(*corev1.Secret); ok {
			out[sec.Name] = sec
		}
	}
	return out
}

func objectMeta(obj any) (metav1.ObjectMeta, string) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return o.ObjectMeta, "Namespace"
	case *corev1.ConfigMap:
		return o.ObjectMeta, "ConfigMap"
	case *corev1.Secret:
		return o.ObjectMeta, "Secret"
	case *corev1.PersistentVolumeClaim:
		return o.ObjectMeta, "PersistentVolumeClaim"
	case *appsv1.Deployment:
		return o.ObjectMeta, "Deployment"
	case *batchv1.Job:
		return o.ObjectMeta, "Job"
	case *policyv1.PodDisruptionBudget:
		return o.ObjectMeta, "PodDisruptionBudget"
	case *scaledObject:
		return o.ObjectMeta, "ScaledObject"
	}
	panic(fmt.Sprintf("objectMeta: %T", obj))
}

func TestK8sKustomization(t *testing.T) {
	t.Parallel()
	s := loadK8s(t)
	require.NotEmpty(t, s.kust.Namespace)
	for r := range s.applied {
		_, err := os.Stat(filepath.Join(s.dir, r))
		require.NoError(t, err, "kustomization resource %s", r)
	}
	seen := map[string]bool{}
	for _, o := range s.objects {
		meta, kind := objectMeta(o.obj)
		id := kind + "/" + meta.Name
		require.False(t, seen[id], "%s: %s defined twice", o.file, id)
		seen[id] = true

		// Templates and optional extras are kept out of the kustomization on purpose;
		// everything else must be in it.
		template := strings.HasSuffix(o.file, ".example.yaml")
		optional := strings.HasPrefix(o.file, "optional"+string(filepath.Separator))
		require.Equal(t, !template && !optional, s.applied[o.file],
			"%s: applied by kustomization.yaml exactly when it is neither *.example.yaml nor under optional/", o.file)

		require.Empty(t, validation.IsDNS1123Subdomain(meta.Name), "%s: %s name", o.file, id)
		if kind == "Namespace" {
			require.Equal(t, s.kust.Namespace, meta.Name, "%s: the Namespace is the kustomization's", o.file)
		} else {
			require.Equal(t, s.kust.Namespace, meta.Namespace, "%s: %s namespace (for kubectl apply -f as well)", o.file, id)
		}
		for k, v := range meta.Labels {
			require.Empty(t, validation.IsQualifiedName(k), "%s: %s label key %q", o.file, id, k)
			require.Empty(t, validation.IsValidLabelValue(v), "%s: %s label %s=%q", o.file, id, k, v)
		}
	}
	require.True(t, seen["Namespace/"+s.kust.Namespace], "no Namespace %s", s.kust.Namespace)

	var crestImage bool
	for _, img := range s.kust.Images {
		if img.Name == "crest" {
			crestImage = true
			require.True(t, img.NewTag != "" || img.Digest != "", "kustomization pins the crest image")
			require.NotEqual(t, "latest", img.NewTag)
		}
	}
	require.True(t, crestImage, "kustomization.yaml maps the image name `crest` to a registry")
}

func TestK8sSecretTemplate(t *testing.T) {
	t.Parallel()
	s := loadK8s(t)
	secrets := s.secrets()
	require.NotEmpty(t, secrets, "deploy/k8s has no Secret template")
	for name, sec := range secrets {
		require.Empty(t, sec.Data, "Secret %s: use stringData placeholders, not data", name)
		for k, v := range sec.StringData {
			require.Contains(t, v, "REPLACE-ME", "Secret %s key %s: a template holds placeholders only", name, k)
		}
	}
	for _, o := range s.objects {
		if _, ok := o.obj.(*corev1.Secret); ok {
			require.True(t, strings.HasSuffix(o.file, ".example.yaml"), "%s: a Secret in the repository is a *.example.yaml template", o.file)
		}
	}
}

func TestK8sCrestYAML(t *testing.T) {
	t.Parallel()
	s := loadK8s(t)
	cfg := loadCrestConfig(t)
	var found int
	for name, cm := range s.configMaps() {
		if text, ok := cm.Data["crest.yaml"]; ok {
			found++
			checkCrestYAML(t, cfg, "ConfigMap "+name, text)
		}
		for k, v := range cm.Data {
			require.False(t, isSecretEnv(cfg, strings.ToUpper(strings.ReplaceAll(k, "-", "_"))),
				"ConfigMap %s key %s looks like a secret: put it in the Secret", name, k)
			noLiteralPassword(t, "ConfigMap "+name+" key "+k, v)
		}
	}
	require.Equal(t, 1, found, "one ConfigMap holds crest.yaml")
}

// podSpec returns the pod template of a workload.
func podSpec(obj any) (*corev1.PodTemplateSpec, bool) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template, true
	case *batchv1.Job:
		return &o.Spec.Template, true
	}
	return nil, false
}

var crestImageRE = regexp.MustCompile(`^crest(:|@|$)`)

func TestK8sWorkloads(t *testing.T) {
	t.Parallel()
	checkDeployment(t, k8sCrest)
}

// k8sCrest checks the crest workloads the kustomization applies and returns them: the
// workers (Deployments), the Jobs running crest migrate up, and crest.yaml.
func k8sCrest(t *testing.T) (workers, migrators []worker, crestFile map[string]any) {
	t.Helper()
	s := loadK8s(t)
	cfg := loadCrestConfig(t)
	root := repoRoot(t)
	uid := dockerfileUID(t, root)
	image := imageEnv(t, root)
	configMaps := s.configMaps()
	secrets := s.secrets()
	claims := map[string]*corev1.PersistentVolumeClaim{}
	pdbs := map[string]*policyv1.PodDisruptionBudget{}
	for _, o := range s.objects {
		switch v := o.obj.(type) {
		case *corev1.PersistentVolumeClaim:
			claims[v.Name] = v
		case *policyv1.PodDisruptionBudget:
			pdbs[v.Name] = v
		}
	}
	// How many pods mount each claim: one ReadWriteOnce claim per pod.
	claimUsers := map[string]int{}
	for _, o := range s.objects {
		if tmpl, ok := podSpec(o.obj); ok && s.applied[o.file] {
			for _, v := range tmpl.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					claimUsers[v.PersistentVolumeClaim.ClaimName] += int(podReplicas(o.obj))
				}
			}
		}
	}
	for _, cm := range configMaps {
		if text, ok := cm.Data["crest.yaml"]; ok {
			crestFile = checkCrestYAML(t, cfg, "ConfigMap "+cm.Name, text)
		}
	}

	var crestContainers int
	for _, o := range s.objects {
		tmpl, ok := podSpec(o.obj)
		if !ok || !s.applied[o.file] {
			continue
		}
		meta, kind := objectMeta(o.obj)
		where := fmt.Sprintf("%s: %s %s", o.file, kind, meta.Name)
		spec := tmpl.Spec

		if d, ok := o.obj.(*appsv1.Deployment); ok {
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			require.NoError(t, err, where)
			require.True(t, sel.Matches(labels.Set(tmpl.Labels)), "%s: selector does not match the pod labels", where)
		}

		volumes := map[string]corev1.Volume{}
		var emptyDirs resource.Quantity
		for _, v := range spec.Volumes {
			volumes[v.Name] = v
			switch {
			case v.ConfigMap != nil:
				cm := configMaps[v.ConfigMap.Name]
				require.NotNil(t, cm, "%s: volume %s: no ConfigMap %s", where, v.Name, v.ConfigMap.Name)
				for _, item := range v.ConfigMap.Items {
					require.Contains(t, cm.Data, item.Key, "%s: volume %s: ConfigMap %s has no key %s", where, v.Name, cm.Name, item.Key)
				}
			case v.PersistentVolumeClaim != nil:
				claim := claims[v.PersistentVolumeClaim.ClaimName]
				require.NotNil(t, claim, "%s: volume %s: no PersistentVolumeClaim %s", where, v.Name, v.PersistentVolumeClaim.ClaimName)
				if claimUsers[claim.Name] > 1 {
					require.Contains(t, claim.Spec.AccessModes, corev1.ReadWriteMany,
						"%s: volume %s: claim %s is mounted by %d pods: it must be ReadWriteMany", where, v.Name, claim.Name, claimUsers[claim.Name])
				}
			case v.Secret != nil:
				sec := secrets[v.Secret.SecretName]
				require.NotNil(t, sec, "%s: volume %s: no Secret template %s", where, v.Name, v.Secret.SecretName)
				require.NotEmpty(t, v.Secret.Items, "%s: volume %s: name the Secret's keys (items), so that only those reach the pod", where, v.Name)
				for _, item := range v.Secret.Items {
					require.Contains(t, sec.StringData, item.Key, "%s: volume %s: Secret %s template has no key %s", where, v.Name, sec.Name, item.Key)
				}
			case v.EmptyDir != nil:
				require.NotNil(t, v.EmptyDir.SizeLimit, "%s: emptyDir %s needs a sizeLimit", where, v.Name)
				emptyDirs.Add(*v.EmptyDir.SizeLimit)
			}
		}

		for _, c := range spec.Containers {
			cwhere := where + " container " + c.Name
			require.NotEmpty(t, c.Image, cwhere)
			require.NotContains(t, c.Image, ":latest", "%s: pin the image", cwhere)

			// Bounded resources: requests and limits for CPU and memory, requests ≤ limits,
			// and room in ephemeral storage for the emptyDirs.
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, ok := c.Resources.Requests[r]
				require.True(t, ok, "%s: requests.%s", cwhere, r)
				lim, ok := c.Resources.Limits[r]
				require.True(t, ok, "%s: limits.%s", cwhere, r)
				require.LessOrEqual(t, req.Cmp(lim), 0, "%s: requests.%s > limits.%s", cwhere, r, r)
			}
			if lim, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok {
				require.LessOrEqual(t, emptyDirs.Cmp(lim), 0, "%s: emptyDir sizeLimits (%s) exceed limits.ephemeral-storage (%s)", cwhere, emptyDirs.String(), lim.String())
			}

			mounts := map[string]string{}
			storage := map[string]string{}
			for _, m := range c.VolumeMounts {
				v, ok := volumes[m.Name]
				require.True(t, ok, "%s: volumeMount %s: no such volume", cwhere, m.Name)
				mounts[m.MountPath] = m.Name
				switch {
				case v.EmptyDir != nil:
					storage[m.MountPath] = ownEphemeral
				case v.PersistentVolumeClaim != nil && slices.Contains(claims[v.PersistentVolumeClaim.ClaimName].Spec.AccessModes, corev1.ReadWriteMany):
					storage[m.MountPath] = shared
				case v.PersistentVolumeClaim != nil:
					storage[m.MountPath] = ownPersistent
				}
			}

			// Environment: names crest knows, values resolved, secrets by reference only.
			env := map[string]string{}
			literal := map[string]bool{}
			for _, e := range c.Env {
				literal[e.Name] = e.ValueFrom == nil
				if strings.HasSuffix(e.Name, "_FILE") {
					mountName, ok := mounts[filepath.Dir(e.Value)]
					require.True(t, ok && volumes[mountName].Secret != nil, "%s: env %s: %s is on no Secret volume", cwhere, e.Name, e.Value)
					require.Contains(t, secretPaths(volumes[mountName].Secret), filepath.Base(e.Value), "%s: env %s: %s is not projected", cwhere, e.Name, e.Value)
				}
				require.Empty(t, validation.IsEnvVarName(e.Name), "%s: env %s", cwhere, e.Name)
				if strings.HasPrefix(e.Name, "CREST_") {
					require.Contains(t, cfg.env, e.Name, "%s: %s is no config key of cmd/crest/config.go (v.SetDefault)", cwhere, e.Name)
				}
				secret := isSecretEnv(cfg, e.Name)
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					sec := secrets[ref.Name]
					require.NotNil(t, sec, "%s: env %s: no Secret template %s", cwhere, e.Name, ref.Name)
					require.Contains(t, sec.StringData, ref.Key, "%s: env %s: Secret %s template has no key %s", cwhere, e.Name, ref.Name, ref.Key)
					env[e.Name] = ""
				case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
					require.False(t, secret, "%s: env %s is a secret: use a secretKeyRef", cwhere, e.Name)
					ref := e.ValueFrom.ConfigMapKeyRef
					cm := configMaps[ref.Name]
					require.NotNil(t, cm, "%s: env %s: no ConfigMap %s", cwhere, e.Name, ref.Name)
					v, ok := cm.Data[ref.Key]
					require.True(t, ok, "%s: env %s: ConfigMap %s has no key %s", cwhere, e.Name, ref.Name, ref.Key)
					env[e.Name] = v
				case e.ValueFrom != nil:
					require.False(t, secret, "%s: env %s is a secret: use a secretKeyRef", cwhere, e.Name)
				default:
					require.False(t, secret, "%s: env %s is a secret: use a secretKeyRef, not a literal value", cwhere, e.Name)
					env[e.Name] = e.Value
				}
			}
			require.Empty(t, c.EnvFrom, "%s: list variables one by one, so that their names are checked", cwhere)

			if !crestImageRE.MatchString(c.Image) {
				continue
			}
			crestContainers++
			require.True(t, len(c.Command) == 0 || len(c.Command) == 1 && filepath.Base(c.Command[0]) == "crest",
				"%s: keep the image's entrypoint (tini → crest); put the subcommand in args", cwhere)
			sub, config := checkCrestArgs(t, cfg, cwhere, c.Args)
			require.NotEmpty(t, config, "%s: pass --config", cwhere)
			mountName, ok := mounts[filepath.Dir(config)]
			require.True(t, ok, "%s: --config %s is not on a mounted volume", cwhere, config)
			vol := volumes[mountName]
			require.NotNil(t, vol.ConfigMap, "%s: --config %s must come from the ConfigMap", cwhere, config)
			require.Contains(t, configMapPaths(vol.ConfigMap), filepath.Base(config), "%s: --config %s is not projected", cwhere, config)

			require.Contains(t, env, "CREST_DATABASE_URL", "%s: crest needs database.url", cwhere)
			for k, v := range image {
				if _, ok := env[k]; !ok {
					env[k] = v
				}
			}
			sc := spec.SecurityContext
			require.NotNil(t, sc, "%s: pod securityContext", where)
			require.True(t, sc.RunAsNonRoot != nil && *sc.RunAsNonRoot, "%s: runAsNonRoot", where)
			require.True(t, sc.RunAsUser != nil && *sc.RunAsUser == uid, "%s: runAsUser must be the image's crest user %d", where, uid)
			if _, ok := mounts["/nix"]; ok {
				require.True(t, sc.FSGroup != nil && *sc.FSGroup == uid, "%s: fsGroup %d, or the crest user cannot write the Nix store volume", where, uid)
			}

			w := worker{name: meta.Name, env: env, args: c.Args, literal: literal, replicas: int(podReplicas(o.obj)), storage: storage}
			if sub == "migrate up" {
				migrators = append(migrators, w)
			}
			if sub == "worker" {
				require.Contains(t, env, "CREST_TEMPORAL_ADDRESS", "%s: a worker needs temporal.address", cwhere)
				require.Contains(t, mounts, "/nix", "%s: a worker needs a volume for the Nix store", cwhere)
				d, ok := o.obj.(*appsv1.Deployment)
				require.True(t, ok, "%s: workers run as Deployments", where)
				w.builder, w.k8s, w.arch = d.Labels["app.kubernetes.io/component"] == "builder", true, spec.NodeSelector["kubernetes.io/arch"]
				workers = append(workers, w)
				if w.builder {
					pdb := pdbs[d.Name]
					require.NotNil(t, pdb, "%s: no PodDisruptionBudget %s", where, d.Name)
					sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
					require.NoError(t, err)
					require.True(t, sel.Matches(labels.Set(tmpl.Labels)), "PodDisruptionBudget %s does not select the builder's pods", pdb.Name)
				}
			}
		}
	}
	require.NotZero(t, crestContainers, "no crest container in the kustomization")
	return workers, migrators, crestFile
}

// podReplicas is how many pods a workload runs at once.
func podReplicas(obj any) int32 {
	if d, ok := obj.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
		return *d.Spec.Replicas
	}
	return 1
}

func configMapPaths(v *corev1.ConfigMapVolumeSource) []string {
	var out []string
	for _, item := range v.Items {
		out = append(out, item.Path)
	}
	return out
}

func secretPaths(v *corev1.SecretVolumeSource) []string {
	var out []string
	for _, item := range v.Items {
		out = append(out, item.Path)
	}
	return out
}

// TestK8sSearchAttributes: the Job registering search attributes registers Crest's.
func TestK8sSearchAttributes(t *testing.T) {
	t.Parallel()
	s := loadK8s(t)
	var found bool
	for _, o := range s.objects {
		job, ok := o.obj.(*batchv1.Job)
		if !ok {
			continue
		}
		for _, c := range job.Spec.Template.Spec.Containers {
			script := strings.Join(append(append([]string{}, c.Command...), c.Args...), "\n")
			if strings.Contains(script, "search-attribute create") {
				found = true
				require.True(t, strings.HasPrefix(c.Image, "temporalio/admin-tools:"), "Job %s: the temporal CLI comes with temporalio/admin-tools", job.Name)
				checkSearchAttributes(t, "Job "+job.Name, script)
			}
		}
	}
	require.True(t, found, "no Job registers the search attributes")
}

// TestK8sAutoscaler: the optional KEDA ScaledObject scales a builder on its own build queue.
func TestK8sAutoscaler(t *testing.T) {
	t.Parallel()
	s := loadK8s(t)
	cfg := loadCrestConfig(t)
	deployments := map[string]*appsv1.Deployment{}
	for _, o := range s.objects {
		if d, ok := o.obj.(*appsv1.Deployment); ok {
			deployments[d.Name] = d
		}
	}
	var cm *corev1.ConfigMap
	for _, c := range s.configMaps() {
		if _, ok := c.Data["crest.yaml"]; ok {
			cm = c
		}
	}
	require.NotNil(t, cm)
	var file map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data["crest.yaml"]), &file))
	prefix := cfg.effectiveString(nil, file, "task_queues.build_prefix")
	for _, o := range s.objects {
		so, ok := o.obj.(*scaledObject)
		if !ok {
			continue
		}
		d := deployments[so.Spec.ScaleTargetRef.Name]
		require.NotNil(t, d, "%s: scales no Deployment", o.file)
		var systems string
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "CREST_WORKER_SYSTEMS" {
				systems = e.Value
			}
		}
		require.NotEmpty(t, systems, "%s: scales %s, which is no builder", o.file, d.Name)
		require.NotEmpty(t, so.Spec.Triggers)
		for _, tr := range so.Spec.Triggers {
			require.Equal(t, "temporal", tr.Type)
			require.Equal(t, prefix+"-"+systems, tr.Metadata["taskQueue"], "%s: the builder's queue", o.file)
			require.Equal(t, "activity", tr.Metadata["queueTypes"], "%s: builds are activity tasks", o.file)
			require.Equal(t, cm.Data["temporal-address"], tr.Metadata["endpoint"], "%s: Temporal as in the ConfigMap", o.file)
			require.Equal(t, cm.Data["temporal-namespace"], tr.Metadata["namespace"], "%s: namespace as in the ConfigMap", o.file)
		}
	}
}

// TestK8sStrictDecoding makes sure the decoder rejects what it should, so that the
// manifests' passing means something.
func TestK8sStrictDecoding(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, text := range map[string]string{
		"unknown field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
		"unknown kind":  "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"duplicate key": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		require.NoError(t, os.WriteFile(p, []byte("---\n"+text), 0o644))
		_, err := decodeK8sFile(p)
		require.Error(t, err, name)
	}
}
