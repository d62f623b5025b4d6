package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"
)

func newSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	return fs
}

func TestPrecedence(t *testing.T) {
	t.Setenv("WARREN_T_HUB", "from-env")
	t.Setenv("WARREN_T_PARTITIONS", "8")
	t.Setenv("WARREN_T_WAIT", "")
	cases := []struct {
		name      string
		args      []string
		hub       string
		parts     int
		wait      time.Duration
		debug     bool
		wantError string
	}{
		{name: "env over default", hub: "from-env", parts: 8, wait: time.Second},
		{name: "flag over env", args: []string{"--hub", "from-flag", "-partitions=4", "--wait", "3s", "--debug"}, hub: "from-flag", parts: 4, wait: 3 * time.Second, debug: true},
		{name: "bad flag", args: []string{"--partitions", "many"}, wantError: "invalid value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := newSet()
			var hub string
			var parts int
			var wait time.Duration
			var debug bool
			String(fs, &hub, "hub", "WARREN_T_HUB", "warren", "task hub")
			Int(fs, &parts, "partitions", "WARREN_T_PARTITIONS", 16, "partitions")
			Duration(fs, &wait, "wait", "WARREN_T_WAIT", time.Second, "wait")
			Bool(fs, &debug, "debug", "WARREN_T_DEBUG", false, "debug")
			err := Parse(fs, c.args)
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hub != c.hub || parts != c.parts || wait != c.wait || debug != c.debug {
				t.Fatalf("got hub=%q partitions=%d wait=%s debug=%v, want %q %d %s %v", hub, parts, wait, debug, c.hub, c.parts, c.wait, c.debug)
			}
		})
	}
}

func TestInvalidEnvironmentValue(t *testing.T) {
	t.Setenv("WARREN_T_PARTITIONS", "sixteen")
	fs := newSet()
	var parts int
	Int(fs, &parts, "partitions", "WARREN_T_PARTITIONS", 16, "partitions")
	err := Parse(fs, nil)
	if err == nil || !strings.Contains(err.Error(), "WARREN_T_PARTITIONS") {
		t.Fatalf("err = %v, want one naming WARREN_T_PARTITIONS", err)
	}

	// A flag on the command line makes the bad environment value irrelevant.
	fs = newSet()
	Int(fs, &parts, "partitions", "WARREN_T_PARTITIONS", 16, "partitions")
	if err := Parse(fs, []string{"--partitions", "4"}); err != nil || parts != 4 {
		t.Fatalf("Parse = %v, partitions %d; want nil, 4", err, parts)
	}
}

func TestHelpListsEnvAndHidesEnvValues(t *testing.T) {
	t.Setenv("WARREN_T_TOKEN", "s3cret")
	fs := newSet()
	var out bytes.Buffer
	fs.SetOutput(&out)
	var token, url string
	String(fs, &token, "token", "WARREN_T_TOKEN", "", "bearer token")
	String(fs, &url, "amqp-url", "WARREN_T_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "broker URL")
	fs.Usage = Usage(fs, "test [flags]", "A test binary.")
	if err := Parse(fs, []string{"--help"}); err != flag.ErrHelp {
		t.Fatalf("Parse(--help) = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, want := range []string{"Usage: test [flags]", "A test binary.", "WARREN_T_TOKEN", "WARREN_T_AMQP_URL", "-amqp-url"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "s3cret") {
		t.Errorf("help shows the token from the environment:\n%s", help)
	}
	if token != "s3cret" {
		t.Errorf("token = %q, want the environment's", token)
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:xxxxx@127.0.0.1:5672/"},
		{"no userinfo", "amqp://127.0.0.1:5672/", "amqp://127.0.0.1:5672/"},
		{"user alone", "amqp://user@host/", "amqp://user@host/"},
		{"mongo without userinfo", "mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"},
		{"escaped @ and a colon in the password, several hosts", "mongodb://admin:p%40ss:w0rd@h1:27017,h2:27017/db?replicaSet=rs0", "mongodb://admin:xxxxx@h1:27017,h2:27017/db?replicaSet=rs0"},
		{"list of URLs", "amqp://a:pw1@n1:5672/,amqp://b:pw2@n2:5672/", "amqp://a:xxxxx@n1:5672/,amqp://b:xxxxx@n2:5672/"},
		{"unescaped @ in the password", "amqp://u:p@ss@h/", "amqp://u:xxxxx@h/"},
		{"unescaped / in the password", "amqp://u:se/cret@h:5672/vhost", "amqp://xxxxx@h:5672/vhost"},
		{"unescaped ? in the password", "amqp://u:se?cret@h:5672/", "amqp://xxxxx@h:5672/"},
		{"unescaped # in the password", "amqp://u:se#cret@h:5672/", "amqp://xxxxx@h:5672/"},
		{"all of them, numeric start", "amqp://u:123/a?b#c@d@h/", "amqp://xxxxx@h/"},
		{"unescaped / in a list", "amqp://a:x/y@n1/,amqp://b:pw2@n2/", "amqp://xxxxx@n1/,amqp://b:xxxxx@n2/"},
		// An @ in the query cannot be told from a password with a '/': all is hidden.
		{"@ in the query", "amqp://a:pw@h/vhost?x=y@z", "amqp://xxxxx@z"},
		{"not a url", "not a url", "not a url"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Redact(c.in)
			if got != c.want {
				t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
			for _, secret := range []string{"pw", "w0rd", "ss@", ":guest@", "cret", "123", "x/y"} {
				if strings.Contains(c.in, secret) && strings.Contains(got, secret) {
					t.Errorf("Redact(%q) = %q still contains %q", c.in, got, secret)
				}
			}
		})
	}
}
