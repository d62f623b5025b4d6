package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, &out); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, env := range []string{"WARREN_AMQP_URL", "WARREN_MONGO_URI", "WARREN_HUB", "WARREN_PARTITIONS", "WARREN_HTTP_ADDR", "WARREN_TOKEN", "WARREN_MAX_BODY_BYTES", "WARREN_LOG_LEVEL"} {
		if !strings.Contains(out.String(), env) {
			t.Errorf("--help does not name %s:\n%s", env, out.String())
		}
	}
}

func TestConfigFromEnvAndFlags(t *testing.T) {
	t.Setenv("WARREN_HUB", "envhub")
	t.Setenv("WARREN_PARTITIONS", "8")
	t.Setenv("WARREN_TOKEN", "tok")
	o, err := parse([]string{"--http-addr", "127.0.0.1:9999"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.Hub != "envhub" || o.Partitions != 8 || o.Token != "tok" || o.HTTPAddr != "127.0.0.1:9999" ||
		o.AMQPURL != "amqp://guest:guest@127.0.0.1:5672/" || o.MongoURI != "mongodb://127.0.0.1:27017" || o.MaxBodyBytes != 1<<20 {
		t.Fatalf("config %+v", o.Config)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Setenv("WARREN_PARTITIONS", "lots")
	var out bytes.Buffer
	if code := run(nil, &out); code != 2 || !strings.Contains(out.String(), "WARREN_PARTITIONS") {
		t.Fatalf("exit %d, output %s", code, out.String())
	}
	t.Setenv("WARREN_PARTITIONS", "")
	if code := run([]string{"--log-level", "loud"}, &out); code != 2 {
		t.Fatalf("bad log level exited %d", code)
	}
	if code := run([]string{"extra"}, &out); code != 2 {
		t.Fatalf("stray argument exited %d", code)
	}
}
