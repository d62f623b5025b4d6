package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// otelVariables are the standard OpenTelemetry variables Warren's tracing setup reads.
var otelVariables = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the dispatcher and the worker of the main module (the folder above) once.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "warren-deploy-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./cmd/dispatcher", "./cmd/worker")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binaries: %v", buildErr)
	}
	return binDir
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// reads lists the WARREN_* variables a binary reads, from its --help.
func reads(t *testing.T, binary string) map[string]bool {
	t.Helper()
	help, _ := exec.Command(filepath.Join(binaries(t), binary), "--help").CombinedOutput()
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`env (WARREN_[A-Z_]+)`).FindAllStringSubmatch(string(help), -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatalf("%s --help names no WARREN_* variable:\n%s", binary, help)
	}
	return out
}

// Every variable a manifest sets for a container — its env, and every key of the ConfigMaps
// and Secrets it takes whole — is one its binary reads (like integration's compose test),
// and every reference names a key that is there.
func TestEveryVariableSetIsRead(t *testing.T) {
	m := load(t)
	for name := range m.deployments {
		c := m.container(t, name)
		binary := c.Command[0]
		known := reads(t, binary)
		set := map[string]string{} // variable → where it comes from
		for _, e := range c.Env {
			set[e.Name] = "env"
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				s := m.secrets[ref.SecretKeyRef.Name]
				if s == nil || s.StringData[ref.SecretKeyRef.Key] == "" {
					t.Errorf("%s: %s reads %s/%s, which is not there", name, e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
				}
			}
			if ref := e.ValueFrom; ref != nil && ref.ConfigMapKeyRef != nil {
				cm := m.configMaps[ref.ConfigMapKeyRef.Name]
				if cm == nil || cm.Data[ref.ConfigMapKeyRef.Key] == "" {
					t.Errorf("%s: %s reads %s/%s, which is not there", name, e.Name, ref.ConfigMapKeyRef.Name, ref.ConfigMapKeyRef.Key)
				}
			}
		}
		for _, from := range c.EnvFrom {
			for k := range envFromKeys(t, m, name, from) {
				set[from.Prefix+k] = "envFrom"
			}
		}
		for v, from := range set {
			switch {
			case strings.HasPrefix(v, "OTEL_"):
				if !slices.Contains(otelVariables, v) {
					t.Errorf("%s sets %s (%s), which Warren's tracing does not read", name, v, from)
				}
			case !known[v]:
				t.Errorf("%s sets %s (%s), which %s does not read (it reads %v)", name, v, from, binary, keys(known))
			}
		}
		for _, need := range []string{"WARREN_AMQP_URL", "WARREN_MONGO_URI", "WARREN_HUB", "WARREN_PARTITIONS"} {
			if set[need] == "" {
				t.Errorf("%s does not set %s", name, need)
			}
		}
	}
}

func envFromKeys(t *testing.T, m *manifests, deployment string, from corev1.EnvFromSource) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	switch {
	case from.ConfigMapRef != nil:
		cm := m.configMaps[from.ConfigMapRef.Name]
		if cm == nil {
			t.Fatalf("%s takes ConfigMap %s, which is not there", deployment, from.ConfigMapRef.Name)
		}
		for k := range cm.Data {
			out[k] = true
		}
	case from.SecretRef != nil:
		s := m.secrets[from.SecretRef.Name]
		if s == nil {
			t.Fatalf("%s takes Secret %s, which is not there", deployment, from.SecretRef.Name)
		}
		for k := range s.StringData {
			out[k] = true
		}
	}
	return out
}
