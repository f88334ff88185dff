// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// The Kubernetes manifests in deploy/kubernetes cannot be applied here (no
// cluster), so this test checks what a cluster would trip over: each
// collector's embedded configuration validates with the built binary under
// the container's environment; args name the mounted file; probes, container
// ports, Services and the tier-1 resolver agree with the configuration's
// listen addresses; memory limits fit memory_limiter; the embedded
// configurations are the tested examples.

type depObject struct {
	file       string
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   depMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	spec       yaml.Node
}

type depMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type depDeploymentSpec struct {
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata depMeta    `yaml:"metadata"`
		Spec     depPodSpec `yaml:"spec"`
	} `yaml:"template"`
}

type depPodSpec struct {
	InitContainers []depContainer `yaml:"initContainers"`
	Containers     []depContainer `yaml:"containers"`
	Volumes        []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type depContainer struct {
	Name          string   `yaml:"name"`
	Image         string   `yaml:"image"`
	RestartPolicy string   `yaml:"restartPolicy"`
	Args          []string `yaml:"args"`
	Env           []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *depProbe `yaml:"startupProbe"`
	LivenessProbe  *depProbe `yaml:"livenessProbe"`
	ReadinessProbe *depProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type depProbe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

type depServiceSpec struct {
	ClusterIP string            `yaml:"clusterIP"`
	Selector  map[string]string `yaml:"selector"`
	Ports     []struct {
		Name       string    `yaml:"name"`
		Port       int       `yaml:"port"`
		TargetPort yaml.Node `yaml:"targetPort"`
	} `yaml:"ports"`
}

// depReadManifests parses every document of every YAML file under dir.
func depReadManifests(t *testing.T, dir string) []*depObject {
	t.Helper()
	var objs []*depObject
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("%s document %d: %w", p, i, err)
			}
			if len(doc.Content) == 0 {
				continue
			}
			o := &depObject{file: p}
			if err := doc.Decode(o); err != nil {
				return fmt.Errorf("%s document %d: %w", p, i, err)
			}
			var withSpec struct {
				Spec yaml.Node `yaml:"spec"`
			}
			if err := doc.Decode(&withSpec); err != nil {
				return fmt.Errorf("%s document %d: %w", p, i, err)
			}
			o.spec = withSpec.Spec
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				return fmt.Errorf("%s document %d: missing apiVersion, kind or metadata.name", p, i)
			}
			objs = append(objs, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// depEnv is a container's environment as the collector would see it:
// $(VAR) references expanded as the kubelet does, fieldRef values replaced
// by a made-up pod IP (status.podIP) or name. validate binds nothing.
func depEnv(c depContainer) map[string]string {
	env := map[string]string{}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			env[e.Name] = depPodIP
		case e.ValueFrom != nil:
			env[e.Name] = "placeholder-" + strings.ToLower(e.Name)
		default:
			env[e.Name] = ref.ReplaceAllStringFunc(e.Value, func(m string) string {
				if v, ok := env[m[2:len(m)-1]]; ok {
					return v
				}
				return m
			})
		}
	}
	return env
}

const depPodIP = "10.244.0.7"

var depEnvRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// depExpand resolves ${env:NAME} and ${env:NAME:-default} like the
// collector, and returns the names used without a default that env lacks.
func depExpand(config string, env map[string]string) (string, []string) {
	var missing []string
	out := depEnvRef.ReplaceAllStringFunc(config, func(m string) string {
		sub := depEnvRef.FindStringSubmatch(m)
		if v, ok := env[sub[1]]; ok {
			return v
		}
		if sub[2] == "" {
			missing = append(missing, sub[1])
		}
		return sub[3]
	})
	return out, missing
}

// depGet walks a parsed YAML map along keys.
func depGet(v any, keys ...any) any {
	for _, k := range keys {
		switch c := v.(type) {
		case map[string]any:
			v = c[fmt.Sprint(k)]
		case []any:
			i, ok := k.(int)
			if !ok || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

func depPort(t *testing.T, endpoint any) (host string, port int) {
	t.Helper()
	h, p, err := net.SplitHostPort(fmt.Sprint(endpoint))
	if err != nil {
		t.Errorf("endpoint %v: %v", endpoint, err)
		return "", 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// depMiB converts a Kubernetes memory quantity (Mi, Gi, M, G or bytes).
func depMiB(t *testing.T, q string) float64 {
	t.Helper()
	units := []struct {
		suffix string
		mib    float64
	}{{"Gi", 1024}, {"Mi", 1}, {"Ki", 1.0 / 1024}, {"G", 1e9 / (1 << 20)}, {"M", 1e6 / (1 << 20)}}
	for _, u := range units {
		if strings.HasSuffix(q, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(q, u.suffix), 64)
			if err != nil {
				t.Errorf("memory quantity %q: %v", q, err)
			}
			return v * u.mib
		}
	}
	v, err := strconv.ParseFloat(q, 64)
	if err != nil {
		t.Errorf("memory quantity %q: %v", q, err)
	}
	return v / (1 << 20)
}

// depGoMemLimit converts GOMEMLIMIT (B, KiB, MiB, GiB suffixes) to MiB.
func depGoMemLimit(t *testing.T, s string) float64 {
	t.Helper()
	for suffix, mib := range map[string]float64{"GiB": 1024, "MiB": 1, "KiB": 1.0 / 1024} {
		if strings.HasSuffix(s, suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, suffix), 64)
			if err != nil {
				t.Errorf("GOMEMLIMIT %q: %v", s, err)
			}
			return v * mib
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "B"), 64)
	if err != nil {
		t.Errorf("GOMEMLIMIT %q: %v", s, err)
	}
	return v / (1 << 20)
}

// depCollector is one otelcol-exemplar container of a workload.
type depCollector struct {
	workload  *depObject
	pod       depDeploymentSpec
	container depContainer
	configMap *depObject
	configKey string
	env       map[string]string
	config    map[string]any // after env expansion
	grpcPort  int
	httpPort  int
}

func (c *depCollector) String() string {
	return fmt.Sprintf("%s/%s container %s (%s)", c.workload.Metadata.Namespace, c.workload.Metadata.Name, c.container.Name, filepath.Base(c.workload.file))
}

// containerPort resolves a port given by number or name.
func (c *depCollector) containerPort(n yaml.Node) int {
	if v, err := strconv.Atoi(n.Value); err == nil {
		return v
	}
	for _, p := range c.container.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	return 0
}

func (c *depCollector) exposes(port int) bool {
	for _, p := range c.container.Ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

func TestDeployManifests(t *testing.T) {
	root := harness.RepoRoot(t)
	objs := depReadManifests(t, filepath.Join(root, "deploy", "kubernetes"))
	if len(objs) == 0 {
		t.Fatal("no manifests under deploy/kubernetes")
	}
	find := func(kind, ns, name string) *depObject {
		for _, o := range objs {
			if o.Kind == kind && o.Metadata.Namespace == ns && o.Metadata.Name == name {
				return o
			}
		}
		return nil
	}
	namespaces := map[string]bool{}
	for _, o := range objs {
		if o.Kind == "Namespace" {
			namespaces[o.Metadata.Name] = true
		}
	}
	version := depBuilderVersion(t, root)

	// Every otelcol-exemplar container of every Deployment.
	var collectors []*depCollector
	for _, o := range objs {
		if o.Metadata.Namespace == "" && o.Kind != "Namespace" {
			t.Errorf("%s %s (%s) has no namespace", o.Kind, o.Metadata.Name, o.file)
		}
		if o.Metadata.Namespace != "" && !namespaces[o.Metadata.Namespace] {
			t.Errorf("%s %s: namespace %q is not created by the manifests", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
		if o.Kind != "Deployment" {
			continue
		}
		var spec depDeploymentSpec
		if err := o.spec.Decode(&spec); err != nil {
			t.Fatalf("%s: %v", o.file, err)
		}
		for k, v := range spec.Selector.MatchLabels {
			if spec.Template.Metadata.Labels[k] != v {
				t.Errorf("Deployment %s: selector %s=%s does not match its pod template", o.Metadata.Name, k, v)
			}
		}
		all := append(append([]depContainer(nil), spec.Template.Spec.InitContainers...), spec.Template.Spec.Containers...)
		for _, c := range all {
			if !strings.HasPrefix(c.Image, "otelcol-exemplar:") && !strings.Contains(c.Image, "/otelcol-exemplar:") {
				continue
			}
			collectors = append(collectors, &depCollector{workload: o, pod: spec, container: c})
		}
	}
	if len(collectors) < 3 {
		t.Fatalf("found %d otelcol-exemplar containers; want the sidecar, tier 1 and tier 2", len(collectors))
	}

	for _, c := range collectors {
		t.Run(c.workload.Metadata.Name, func(t *testing.T) {
			depCheckCollector(t, c, version, find)
		})
	}

	t.Run("services", func(t *testing.T) {
		for _, o := range objs {
			if o.Kind != "Service" {
				continue
			}
			depCheckService(t, o, collectors)
		}
	})

	t.Run("tier1_resolver", func(t *testing.T) {
		depCheckResolver(t, collectors, find)
	})

	t.Run("configs_are_the_examples", func(t *testing.T) {
		depCheckExamples(t, root, collectors)
	})
}

func depBuilderVersion(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Dist struct {
			Version string `yaml:"version"`
		} `yaml:"dist"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.Dist.Version
}

func depCheckCollector(t *testing.T, c *depCollector, version string, find func(kind, ns, name string) *depObject) {
	ns := c.workload.Metadata.Namespace
	// The image is the one the Dockerfile builds, tagged with the version
	// ocb stamps into the binary.
	if want := "otelcol-exemplar:" + version; c.container.Image != want {
		t.Errorf("%s: image %q, want %q", c, c.container.Image, want)
	}
	if c.container.SecurityContext.RunAsNonRoot == nil || !*c.container.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: securityContext.runAsNonRoot is not true", c)
	}

	// args --config=<file> names a file of a mounted ConfigMap.
	var configPath string
	for _, a := range c.container.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			configPath = v
		}
	}
	if configPath == "" {
		t.Fatalf("%s: no --config=<file> in args %q", c, c.container.Args)
	}
	for _, m := range c.container.VolumeMounts {
		if path.Dir(configPath) != path.Clean(m.MountPath) {
			continue
		}
		for _, v := range c.pod.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				c.configMap = find("ConfigMap", ns, v.ConfigMap.Name)
				if c.configMap == nil {
					t.Fatalf("%s: ConfigMap %s/%s is not in the manifests", c, ns, v.ConfigMap.Name)
				}
			}
		}
	}
	if c.configMap == nil {
		t.Fatalf("%s: --config=%s is not in a ConfigMap volume mounted at %s", c, configPath, path.Dir(configPath))
	}
	c.configKey = path.Base(configPath)
	raw, ok := c.configMap.Data[c.configKey]
	if !ok {
		t.Fatalf("%s: ConfigMap %s has no key %q", c, c.configMap.Metadata.Name, c.configKey)
	}

	// The configuration validates with the built binary under the
	// container's environment, and uses no variable the container lacks.
	c.env = depEnv(c.container)
	expanded, missing := depExpand(raw, c.env)
	if len(missing) > 0 {
		t.Errorf("%s: the configuration uses ${env:...} without default for %v, which the container does not set", c, missing)
	}
	file := filepath.Join(t.TempDir(), c.configKey)
	if err := os.WriteFile(file, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(harness.CollectorBinary(t), "validate", "--config="+file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: otelcol-exemplar validate: %v\n%s", c, err, out)
	}
	if err := yaml.Unmarshal([]byte(expanded), &c.config); err != nil {
		t.Fatalf("%s: %v", c, err)
	}

	// OTLP receivers: exposed by the container unless they listen on
	// localhost only (a sidecar, reached from its own pod).
	for proto, port := range map[string]*int{"grpc": &c.grpcPort, "http": &c.httpPort} {
		ep := depGet(c.config, "receivers", "otlp", "protocols", proto, "endpoint")
		if ep == nil {
			continue
		}
		host, p := depPort(t, ep)
		*port = p
		if host != "localhost" && host != "127.0.0.1" && !c.exposes(p) {
			t.Errorf("%s: OTLP/%s listens on %v but the container exposes no port %d", c, proto, ep, p)
		}
	}
	if c.grpcPort == 0 {
		t.Errorf("%s: no OTLP/gRPC receiver", c)
	}

	// Probes hit the health_check extension on the pod IP.
	hc := depGet(c.config, "extensions", "health_check", "endpoint")
	if hc == nil {
		t.Fatalf("%s: no health_check extension", c)
	}
	hcHost, hcPort := depPort(t, hc)
	if hcHost == "localhost" || hcHost == "127.0.0.1" {
		t.Errorf("%s: health_check listens on %v, which the kubelet cannot reach", c, hc)
	}
	hcPath := "/"
	if p, ok := depGet(c.config, "extensions", "health_check", "path").(string); ok {
		hcPath = p
	}
	probes := map[string]*depProbe{"startup": c.container.StartupProbe, "liveness": c.container.LivenessProbe, "readiness": c.container.ReadinessProbe}
	for name, p := range probes {
		switch {
		case p == nil && name == "startup":
		case p == nil || p.HTTPGet == nil:
			t.Errorf("%s: no HTTP %s probe", c, name)
		case c.containerPort(p.HTTPGet.Port) != hcPort || p.HTTPGet.Path != hcPath:
			t.Errorf("%s: %s probe GET %s on port %q, health_check serves %s on %d", c, name, p.HTTPGet.Path, p.HTTPGet.Port.Value, hcPath, hcPort)
		}
	}
	if metrics := depGet(c.config, "service", "telemetry", "metrics", "readers", 0, "pull", "exporter", "prometheus", "port"); metrics != nil {
		if p, _ := strconv.Atoi(fmt.Sprint(metrics)); !c.exposes(p) {
			t.Errorf("%s: internal telemetry on port %v is not a container port", c, metrics)
		}
	}

	// Memory: the memory_limiter limit below the container limit, with
	// room for the ~50 MiB the process uses beyond its heap; GOMEMLIMIT at
	// or below the limit.
	limit, _ := strconv.ParseFloat(fmt.Sprint(depGet(c.config, "processors", "memory_limiter", "limit_mib")), 64)
	if limit <= 0 {
		t.Fatalf("%s: memory_limiter.limit_mib not set", c)
	}
	mem, ok := c.container.Resources.Limits["memory"]
	if !ok {
		t.Fatalf("%s: no memory limit", c)
	}
	if cmib := depMiB(t, mem); cmib < limit+50 {
		t.Errorf("%s: memory limit %s leaves less than 50 MiB above memory_limiter.limit_mib %g", c, mem, limit)
	}
	if req, ok := c.container.Resources.Requests["memory"]; !ok || depMiB(t, req) < limit {
		t.Errorf("%s: memory request %q below memory_limiter.limit_mib %g: the pod may be evicted before the limiter acts", c, req, limit)
	}
	if g, ok := c.env["GOMEMLIMIT"]; ok && depGoMemLimit(t, g) > limit {
		t.Errorf("%s: GOMEMLIMIT %s above memory_limiter.limit_mib %g", c, g, limit)
	}
	// Both pipelines run the exemplar processor or neither does.
	tp, _ := depGet(c.config, "service", "pipelines", "traces", "processors").([]any)
	mp, _ := depGet(c.config, "service", "pipelines", "metrics", "processors").([]any)
	if depHas(tp, "exemplar") != depHas(mp, "exemplar") {
		t.Errorf("%s: exemplar in only one of the traces (%v) and metrics (%v) pipelines", c, tp, mp)
	}
}

func depHas(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// depCheckService checks that a Service selects a collector and that every
// port it forwards reaches one of that collector's OTLP receivers.
func depCheckService(t *testing.T, svc *depObject, collectors []*depCollector) {
	var spec depServiceSpec
	if err := svc.spec.Decode(&spec); err != nil {
		t.Fatalf("%s: %v", svc.file, err)
	}
	var targets []*depCollector
	for _, c := range collectors {
		if c.config == nil || c.workload.Metadata.Namespace != svc.Metadata.Namespace || len(spec.Selector) == 0 {
			continue
		}
		match := true
		for k, v := range spec.Selector {
			if c.pod.Template.Metadata.Labels[k] != v {
				match = false
			}
		}
		if match {
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 {
		t.Errorf("Service %s selects no otelcol-exemplar pod", svc.Metadata.Name)
		return
	}
	for _, c := range targets {
		for _, p := range spec.Ports {
			target := p.TargetPort
			if target.Value == "" {
				target = yaml.Node{Kind: yaml.ScalarNode, Value: strconv.Itoa(p.Port)}
			}
			cp := c.containerPort(target)
			switch {
			case cp == 0:
				t.Errorf("Service %s port %s: target %q is not a port of %s", svc.Metadata.Name, p.Name, target.Value, c)
			case cp != c.grpcPort && cp != c.httpPort:
				t.Errorf("Service %s port %s: target port %d is not an OTLP receiver of %s (grpc %d, http %d)", svc.Metadata.Name, p.Name, cp, c, c.grpcPort, c.httpPort)
			}
		}
	}
}

// depCheckResolver checks that the load_balancing exporter of tier 1 points
// at a headless Service of collectors that run the exemplar processor, on
// their OTLP/gRPC port.
func depCheckResolver(t *testing.T, collectors []*depCollector, find func(kind, ns, name string) *depObject) {
	found := false
	for _, c := range collectors {
		lb := depGet(c.config, "exporters", "load_balancing")
		if lb == nil {
			continue
		}
		found = true
		var svcName, ns string
		var ports []int
		if dns := depGet(lb, "resolver", "dns"); dns != nil {
			host := fmt.Sprint(depGet(dns, "hostname"))
			parts := strings.Split(host, ".")
			if len(parts) < 2 || !strings.HasSuffix(host, ".svc.cluster.local") && len(parts) != 2 {
				t.Fatalf("%s: dns resolver hostname %q is not <service>.<namespace>.svc.cluster.local", c, host)
			}
			svcName, ns = parts[0], parts[1]
			p, _ := strconv.Atoi(fmt.Sprint(depGet(dns, "port")))
			ports = []int{p}
		} else if k8s := depGet(lb, "resolver", "k8s"); k8s != nil {
			svcName, ns, _ = strings.Cut(fmt.Sprint(depGet(k8s, "service")), ".")
			for _, p := range depGet(k8s, "ports").([]any) {
				n, _ := strconv.Atoi(fmt.Sprint(p))
				ports = append(ports, n)
			}
		} else {
			t.Errorf("%s: the load_balancing exporter uses neither the dns nor the k8s resolver", c)
			continue
		}
		svc := find("Service", ns, svcName)
		if svc == nil {
			t.Errorf("%s: the resolver names Service %s/%s, which is not in the manifests", c, ns, svcName)
			continue
		}
		var spec depServiceSpec
		if err := svc.spec.Decode(&spec); err != nil {
			t.Fatal(err)
		}
		if spec.ClusterIP != "None" {
			t.Errorf("Service %s is not headless: tier 1 would see one virtual IP instead of each tier-2 pod", svcName)
		}
		for _, tier2 := range collectors {
			if tier2.config == nil || tier2.workload.Metadata.Namespace != ns {
				continue
			}
			selected := true
			for k, v := range spec.Selector {
				if tier2.pod.Template.Metadata.Labels[k] != v {
					selected = false
				}
			}
			if !selected {
				continue
			}
			tp, _ := depGet(tier2.config, "service", "pipelines", "traces", "processors").([]any)
			if !depHas(tp, "exemplar") {
				t.Errorf("%s routes to %s, which does not run the exemplar processor", c, tier2)
			}
			for _, p := range ports {
				if p != tier2.grpcPort || !tier2.exposes(p) {
					t.Errorf("%s sends to port %d of %s, whose OTLP/gRPC receiver listens on %d", c, p, tier2, tier2.grpcPort)
				}
			}
		}
	}
	if !found {
		t.Error("no collector in the manifests uses the load_balancing exporter")
	}
}

// depCheckExamples checks that the ConfigMaps carry the example
// configurations the other e2e tests run: the sidecar and tier 2 verbatim,
// tier 1 with only its resolver changed.
func depCheckExamples(t *testing.T, root string, collectors []*depCollector) {
	example := map[string]string{"sidecar": "sidecar", "gateway-tier1": "gateway-tier1", "gateway-tier2": "gateway-tier2"}
	seen := map[string]bool{}
	for _, c := range collectors {
		if c.configMap == nil {
			continue
		}
		dir, ok := example[c.configMap.Metadata.Labels["app.kubernetes.io/component"]]
		if !ok {
			t.Errorf("ConfigMap %s: label app.kubernetes.io/component %q names no example", c.configMap.Metadata.Name, c.configMap.Metadata.Labels["app.kubernetes.io/component"])
			continue
		}
		seen[dir] = true
		want, err := os.ReadFile(filepath.Join(root, "examples", dir, "config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		got := c.configMap.Data[c.configKey]
		if dir != "gateway-tier1" {
			if got != string(want) {
				t.Errorf("ConfigMap %s differs from examples/%s/config.yaml", c.configMap.Metadata.Name, dir)
			}
			continue
		}
		var g, w map[string]any
		if err := yaml.Unmarshal([]byte(got), &g); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		for _, m := range []map[string]any{g, w} {
			if lb, ok := depGet(m, "exporters", "load_balancing").(map[string]any); ok {
				delete(lb, "resolver")
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("ConfigMap %s differs from examples/%s/config.yaml in more than the resolver", c.configMap.Metadata.Name, dir)
		}
	}
	for _, dir := range example {
		if !seen[dir] {
			t.Errorf("no manifest runs examples/%s", dir)
		}
	}
}

// TestDeployDockerfile checks by reading what a container build would trip
// over: the build runs `make build`, the image runs as a numeric non-root
// user, exposes the ports the manifests use, and the build context leaves
// out a stale _build/.
func TestDeployDockerfile(t *testing.T) {
	root := harness.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages, user, entrypoint string
	exposed := map[int]bool{}
	built := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			stages += f[1] + " "
			user = "" // USER applies per stage
			if first, _, ok := strings.Cut(f[1], "/"); ok && strings.ContainsAny(first, ".:") {
				t.Errorf("FROM %s names a registry host", f[1])
			}
		case "RUN":
			built = built || strings.Contains(line, "make build")
		case "USER":
			user = f[1]
		case "EXPOSE":
			for _, p := range f[1:] {
				n, _ := strconv.Atoi(p)
				exposed[n] = true
			}
		case "ENTRYPOINT":
			entrypoint = strings.Join(f[1:], " ")
		}
	}
	if strings.Count(stages, " ") < 2 {
		t.Errorf("want a multi-stage build, got stages %q", stages)
	}
	if !built {
		t.Error("no stage runs `make build`")
	}
	uid, err := strconv.Atoi(strings.Split(user, ":")[0])
	if err != nil || uid == 0 {
		t.Errorf("final stage USER %q: want a numeric non-root user (Kubernetes runAsNonRoot cannot check names)", user)
	}
	for _, p := range []int{4317, 4318, 13133, 8888} {
		if !exposed[p] {
			t.Errorf("the image does not EXPOSE %d", p)
		}
	}
	if !strings.Contains(entrypoint, "otelcol-exemplar") {
		t.Errorf("ENTRYPOINT %s does not run otelcol-exemplar", entrypoint)
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^/?_build/?$`).Match(ignore) {
		t.Error(".dockerignore does not leave out _build/: a stale binary would make `make build` in the image a no-op")
	}
}
