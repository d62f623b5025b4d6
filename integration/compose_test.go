package integration

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/warrenhq/warren/internal/fleettest"
)

// composeFile is the part of docker-compose.yml the wiring test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Deploy      struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

// otelVariables are the standard OpenTelemetry variables tracing.Setup reads.
var otelVariables = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"}

// No Docker engine runs here, so the compose file is checked by reading it: every Warren
// service's environment names a setting its binary really reads (its --help lists it), and
// the addresses point at the services that are there.
func TestComposeFileWiring(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"rabbitmq", "mongodb", "jaeger", "dispatcher", "worker"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("service %q missing", name)
		}
	}
	if r := c.Services["worker"].Deploy.Replicas; r != 3 {
		t.Errorf("worker replicas = %d, want 3", r)
	}
	bins := fleettest.Binaries(t)
	envRE := regexp.MustCompile(`env (WARREN_[A-Z_]+)`)
	rabbit := c.Services["rabbitmq"].Environment
	for name, svc := range c.Services {
		binary := ""
		switch {
		case len(svc.Command) > 0 && strings.HasPrefix(svc.Image, "warren"):
			binary = svc.Command[0]
		case len(svc.Entrypoint) > 0 && strings.HasPrefix(svc.Image, "warren"):
			binary = svc.Entrypoint[0]
		default:
			continue
		}
		help, _ := exec.Command(filepath.Join(bins, binary), "--help").CombinedOutput()
		reads := map[string]bool{}
		for _, m := range envRE.FindAllStringSubmatch(string(help), -1) {
			reads[m[1]] = true
		}
		if len(reads) == 0 {
			t.Fatalf("%s --help lists no WARREN_* variables:\n%s", binary, help)
		}
		for key, val := range svc.Environment {
			switch {
			case strings.HasPrefix(key, "OTEL_"):
				if !slices.Contains(otelVariables, key) {
					t.Errorf("service %s sets %s, which tracing.Setup does not read", name, key)
				}
			case !reads[key]:
				t.Errorf("service %s sets %s, which %s does not read (it reads %v)", name, key, binary, keys(reads))
			}
			checkAddress(t, name, key, val, rabbit)
		}
	}
	d, w := c.Services["dispatcher"].Environment, c.Services["worker"].Environment
	for _, key := range []string{"WARREN_HUB", "WARREN_PARTITIONS", "WARREN_AMQP_URL", "WARREN_MONGO_URI"} {
		if d[key] != w[key] {
			t.Errorf("dispatcher and worker disagree on %s: %q vs %q", key, d[key], w[key])
		}
	}
	_, port, _ := strings.Cut(d["WARREN_HTTP_ADDR"], ":")
	if !strings.HasPrefix(d["WARREN_HTTP_ADDR"], "0.0.0.0:") || !slices.Contains(c.Services["dispatcher"].Ports, "127.0.0.1:"+port+":"+port) {
		t.Errorf("dispatcher listens on %q but publishes %v", d["WARREN_HTTP_ADDR"], c.Services["dispatcher"].Ports)
	}
	if cl, ok := c.Services["client"]; ok && cl.Environment["WARREN_DISPATCHER"] != "http://dispatcher:"+port {
		t.Errorf("client points at %q, dispatcher listens on port %s", cl.Environment["WARREN_DISPATCHER"], port)
	}
}

// checkAddress checks that a URL setting names a compose service and the right credentials.
func checkAddress(t *testing.T, service, key, val string, rabbit map[string]string) {
	t.Helper()
	want := map[string]string{
		"WARREN_AMQP_URL":             "rabbitmq:5672",
		"WARREN_MONGO_URI":            "mongodb:27017",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "jaeger:4318",
		"WARREN_DISPATCHER":           "dispatcher:8080",
	}[key]
	if want == "" {
		return
	}
	u, err := url.Parse(val)
	if err != nil || u.Host != want {
		t.Errorf("service %s: %s=%q, want host %s", service, key, val, want)
		return
	}
	if key == "WARREN_AMQP_URL" {
		pass, _ := u.User.Password()
		if u.User.Username() != rabbit["RABBITMQ_DEFAULT_USER"] || pass != rabbit["RABBITMQ_DEFAULT_PASS"] {
			t.Errorf("service %s: AMQP credentials do not match the rabbitmq service's", service)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
