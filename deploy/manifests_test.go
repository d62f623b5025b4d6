package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of deploy/kubernetes, decoded strictly into their API types:
// a field the type does not have, or a value of the wrong type, fails the decoding.
type manifests struct {
	kustomization struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        map[string]*policyv1.PodDisruptionBudget
	scaled      map[string]*kedav1alpha1.ScaledObject
	triggerAuth map[string]*kedav1alpha1.TriggerAuthentication
	namespaces  []string
}

const kubeDir = "kubernetes"

func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, scaled: map[string]*kedav1alpha1.ScaledObject{},
		triggerAuth: map[string]*kedav1alpha1.TriggerAuthentication{}}
	raw, err := os.ReadFile(filepath.Join(kubeDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Namespace  string           `json:"namespace"`
		Labels     []map[string]any `json:"labels"`
		Resources  []string         `json:"resources"`
		Images     []map[string]any `json:"images"`
	}
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Kind != "Kustomization" || k.APIVersion != "kustomize.config.k8s.io/v1beta1" {
		t.Fatalf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
	m.kustomization.Namespace, m.kustomization.Resources = k.Namespace, k.Resources
	// Every manifest in the folder is a resource of the kustomization, and the other way round.
	files, _ := filepath.Glob(filepath.Join(kubeDir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml's resources", base)
		}
	}
	for _, r := range k.Resources {
		raw, err := os.ReadFile(filepath.Join(kubeDir, r))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", r, err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
			if err := m.decode(doc); err != nil {
				t.Fatalf("%s, document %d: %v", r, i+1, err)
			}
		}
	}
	return m
}

// decode decodes one document by its apiVersion and kind.
func (m *manifests) decode(doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	strict := func(v any) error { return yaml.UnmarshalStrict(doc, v) }
	name := head.Metadata.Name
	var err error
	switch head.APIVersion + " " + head.Kind {
	case "v1 Namespace":
		var ns corev1.Namespace
		err = strict(&ns)
		m.namespaces = append(m.namespaces, name)
	case "v1 ConfigMap":
		m.configMaps[name] = &corev1.ConfigMap{}
		err = strict(m.configMaps[name])
	case "v1 Secret":
		m.secrets[name] = &corev1.Secret{}
		err = strict(m.secrets[name])
	case "v1 Service":
		m.services[name] = &corev1.Service{}
		err = strict(m.services[name])
	case "apps/v1 Deployment":
		m.deployments[name] = &appsv1.Deployment{}
		err = strict(m.deployments[name])
	case "policy/v1 PodDisruptionBudget":
		m.pdbs[name] = &policyv1.PodDisruptionBudget{}
		err = strict(m.pdbs[name])
	case "keda.sh/v1alpha1 ScaledObject":
		m.scaled[name] = &kedav1alpha1.ScaledObject{}
		err = strict(m.scaled[name])
	case "keda.sh/v1alpha1 TriggerAuthentication":
		m.triggerAuth[name] = &kedav1alpha1.TriggerAuthentication{}
		err = strict(m.triggerAuth[name])
	default:
		return fmt.Errorf("unexpected object %s %s %q", head.APIVersion, head.Kind, name)
	}
	if name == "" {
		return fmt.Errorf("%s without a name", head.Kind)
	}
	return err
}

// container returns the one container of a Deployment.
func (m *manifests) container(t *testing.T, deployment string) corev1.Container {
	t.Helper()
	d, ok := m.deployments[deployment]
	if !ok {
		t.Fatalf("no Deployment %s", deployment)
	}
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", deployment, n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// env is the value a container's own env gives name ("" when it does not set it there).
func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	if !slices.Contains(m.namespaces, m.kustomization.Namespace) {
		t.Errorf("the kustomization's namespace %q is not created (namespaces: %v)", m.kustomization.Namespace, m.namespaces)
	}
	for _, name := range []string{"warren-dispatcher", "warren-worker"} {
		d := m.deployments[name]
		if d == nil {
			t.Fatalf("no Deployment %s", name)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector %v does not match its pods' labels %v", name, d.Spec.Selector, d.Spec.Template.Labels)
		}
		c := m.container(t, name)
		if c.Image != "warren" || len(c.Command) != 1 {
			t.Errorf("Deployment %s runs %s %v, want the warren image and one binary", name, c.Image, c.Command)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
			c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("Deployment %s: liveness on /healthz and readiness on /readyz wanted", name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("Deployment %s requests no CPU or memory", name)
		}
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
			if p != nil && p.HTTPGet != nil && !hasPort(c, p.HTTPGet.Port.String()) {
				t.Errorf("Deployment %s probes port %s, which the container does not name", name, p.HTTPGet.Port.String())
			}
		}
	}
}

func hasPort(c corev1.Container, port string) bool {
	for _, p := range c.Ports {
		if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
			return true
		}
	}
	return false
}

// The worker's probes and metrics are on WARREN_METRICS_ADDR's port, its grace period is
// above its drain timeout, and the PodDisruptionBudget covers its pods.
func TestWorkerDeployment(t *testing.T) {
	m := load(t)
	c := m.container(t, "warren-worker")
	if c.Command[0] != "worker" {
		t.Fatalf("warren-worker runs %v", c.Command)
	}
	_, port, ok := strings.Cut(env(c, "WARREN_METRICS_ADDR"), ":")
	if !ok || len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port {
		t.Errorf("WARREN_METRICS_ADDR=%q but the container's ports are %v", env(c, "WARREN_METRICS_ADDR"), c.Ports)
	}
	drain, err := time.ParseDuration(env(c, "WARREN_DRAIN_TIMEOUT"))
	if err != nil {
		t.Fatalf("WARREN_DRAIN_TIMEOUT: %v", err)
	}
	grace := m.deployments["warren-worker"].Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= drain+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds is not set well above WARREN_DRAIN_TIMEOUT %s", drain)
	}
	pdb := m.pdbs["warren-worker"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget for the workers")
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(m.deployments["warren-worker"].Spec.Template.Labels)) {
		t.Errorf("the PodDisruptionBudget's selector %v does not match the workers", pdb.Spec.Selector)
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Error("the PodDisruptionBudget bounds nothing")
	}
}

// The Service reaches the dispatcher on the port it listens on.
func TestDispatcherService(t *testing.T) {
	m := load(t)
	c := m.container(t, "warren-dispatcher")
	if c.Command[0] != "dispatcher" {
		t.Fatalf("warren-dispatcher runs %v", c.Command)
	}
	host, port, _ := strings.Cut(env(c, "WARREN_HTTP_ADDR"), ":")
	if host != "0.0.0.0" && host != "" {
		t.Errorf("WARREN_HTTP_ADDR=%q listens on %s only: the Service cannot reach it", env(c, "WARREN_HTTP_ADDR"), host)
	}
	if !hasPort(c, port) {
		t.Errorf("WARREN_HTTP_ADDR's port %s is not a container port (%v)", port, c.Ports)
	}
	svc := m.services["warren-dispatcher"]
	if svc == nil || len(svc.Spec.Ports) != 1 || !hasPort(c, svc.Spec.Ports[0].TargetPort.String()) {
		t.Fatalf("the dispatcher's Service does not target its port: %+v", svc)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(m.deployments["warren-dispatcher"].Spec.Template.Labels)) {
		t.Errorf("the Service selects %v, not the dispatcher's pods", svc.Spec.Selector)
	}
}

// KEDA scales the worker Deployment on the hub's work-item queue and the sum of its
// control queues, with credentials from the Secret.
func TestScaledObject(t *testing.T) {
	m := load(t)
	so := m.scaled["warren-worker"]
	if so == nil {
		t.Fatal("no ScaledObject warren-worker")
	}
	if so.Spec.ScaleTargetRef == nil || m.deployments[so.Spec.ScaleTargetRef.Name] == nil || so.Spec.ScaleTargetRef.Name != "warren-worker" {
		t.Fatalf("the ScaledObject scales %+v, not the worker Deployment", so.Spec.ScaleTargetRef)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
		t.Error("the ScaledObject may scale the workers to zero: timers then wait for a message to wake them")
	}
	hub := m.configMaps["warren-config"].Data["WARREN_HUB"]
	queues := map[string]map[string]string{}
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "rabbitmq" {
			t.Errorf("trigger %s is %s, want rabbitmq", tr.Name, tr.Type)
		}
		queues[tr.Metadata["queueName"]] = tr.Metadata
		if tr.AuthenticationRef == nil || m.triggerAuth[tr.AuthenticationRef.Name] == nil {
			t.Errorf("trigger %s authenticates with %+v, which is not a TriggerAuthentication here", tr.Name, tr.AuthenticationRef)
		}
		if tr.Metadata["mode"] != "QueueLength" || tr.Metadata["value"] == "" {
			t.Errorf("trigger %s: mode %q value %q, want QueueLength and a target", tr.Name, tr.Metadata["mode"], tr.Metadata["value"])
		}
	}
	if _, ok := queues[hub+".workitems"]; !ok {
		t.Errorf("no trigger on %s.workitems (triggers on %v)", hub, keys(queues))
	}
	control := queues[strings.ReplaceAll(hub, ".", `\.`)+`\.control\..*`]
	if control == nil || control["useRegex"] != "true" || control["operation"] != "sum" || control["protocol"] != "http" {
		t.Errorf("no trigger summing %s's control queues by regex over the management API: %v", hub, control)
	}
	for name, ta := range m.triggerAuth {
		for _, ref := range ta.Spec.SecretTargetRef {
			s := m.secrets[ref.Name]
			if s == nil || s.StringData[ref.Key] == "" {
				t.Errorf("TriggerAuthentication %s reads %s/%s, which the Secret does not hold", name, ref.Name, ref.Key)
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
