// Package testenv is the shared plumbing of tests that need real services: where RabbitMQ,
// the MongoDB-protocol store and Jaeger listen, and what to do when one is missing (skip on
// a developer's machine, fail when CI is set).
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// AMQPURL is the broker the tests use (WARREN_TEST_AMQP_URL, default local guest).
func AMQPURL() string {
	return env("WARREN_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
}

// MongoURI is the MongoDB-protocol store the tests use (WARREN_TEST_MONGO_URI).
func MongoURI() string {
	return env("WARREN_TEST_MONGO_URI", "mongodb://127.0.0.1:27017/")
}

// JaegerQueryURL is Jaeger's query API (WARREN_TEST_JAEGER_URL).
func JaegerQueryURL() string {
	return env("WARREN_TEST_JAEGER_URL", "http://127.0.0.1:16686")
}

// JaegerOTLPEndpoint is Jaeger's OTLP/HTTP endpoint (WARREN_TEST_OTLP_ENDPOINT).
func JaegerOTLPEndpoint() string {
	return env("WARREN_TEST_OTLP_ENDPOINT", "http://127.0.0.1:4318")
}

// Require checks that something listens at hostport; when nothing does it fails the test
// under CI and skips it elsewhere.
func Require(t testing.TB, service, hostport string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	msg := service + " is not reachable at " + hostport + " (start it with `make services-up`): " + err.Error()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RequireMongo is Require for the store.
func RequireMongo(t testing.TB) {
	Require(t, "MongoDB/FerretDB", hostPort(MongoURI(), "127.0.0.1:27017"))
}

// RequireJaeger is Require for Jaeger. It first waits for Jaeger while WARREN_TEST_JAEGER_WAIT allows (a duration):
// `scripts/services.sh run` sets it when it builds and starts Jaeger in the background, so
// that the tests begin before Jaeger answers. The wait ends at the same moment for every
// test of the process; under CI a Jaeger that has not come by then fails the test.
func RequireJaeger(t testing.TB) {
	t.Helper()
	hp := hostPort(JaegerQueryURL(), "127.0.0.1:16686")
	if until := jaegerDeadline(); time.Now().Before(until) {
		t0 := time.Now()
		for !listening(hp) && time.Now().Before(until) {
			time.Sleep(time.Second)
		}
		if waited := time.Since(t0); waited > time.Second {
			t.Logf("waited %s for Jaeger at %s (WARREN_TEST_JAEGER_WAIT)", waited.Round(time.Second), hp)
		}
	}
	Require(t, "Jaeger", hp)
}

// jaegerDeadline is when RequireJaeger stops waiting: WARREN_TEST_JAEGER_WAIT after the
// first call of the process (the zero time without it).
var jaegerDeadline = sync.OnceValue(func() time.Time {
	d, err := time.ParseDuration(os.Getenv("WARREN_TEST_JAEGER_WAIT"))
	if err != nil || d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
})

func listening(hostport string) bool {
	c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// UniqueName returns prefix plus a short random suffix, for hubs and databases that must not
// collide between tests or runs.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// hostPort pulls host:port out of a URL like scheme://user:pass@host:port/path.
func hostPort(url, def string) string {
	s := url
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return def
	}
	if !strings.Contains(s, ":") {
		return s + ":" + strings.SplitN(def, ":", 2)[1]
	}
	return s
}
