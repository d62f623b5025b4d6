// Package config is the flag and environment plumbing shared by Warren's binaries: every
// setting is a flag with a WARREN_* environment fallback, and --help lists both.
// A flag given on the command line wins over the environment, which wins over the default.
//
//	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
//	config.String(fs, &cfg.AMQPURL, "amqp-url", "WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
//	config.Int(fs, &cfg.Partitions, "partitions", "WARREN_PARTITIONS", 16, "control queue partitions")
//	if err := config.Parse(fs, os.Args[1:]); err != nil { ... }
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// envErrors keeps, per flag set, the environment values that did not parse, so that Parse
// can report them (registration itself cannot fail).
var (
	mu        sync.Mutex
	envErrors = map[*flag.FlagSet][]envError{}
)

type envError struct {
	flag string
	err  error
}

// bind registers the flag, then applies the environment variable, if set, as the starting
// value. The usage names the variable; the default shown stays the built-in one, so --help
// never prints a value that came from the environment (it may be a secret).
func bind(fs *flag.FlagSet, name, env, usage string, register func(usage string)) {
	if env != "" {
		usage = fmt.Sprintf("%s (env %s)", usage, env)
	}
	register(usage)
	if env == "" {
		return
	}
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return
	}
	if err := fs.Lookup(name).Value.Set(v); err != nil {
		mu.Lock()
		envErrors[fs] = append(envErrors[fs], envError{name, fmt.Errorf("environment variable %s=%q: %v", env, v, err)})
		mu.Unlock()
	}
}

// String defines a string flag with an environment fallback.
func String(fs *flag.FlagSet, p *string, name, env, def, usage string) {
	bind(fs, name, env, usage, func(u string) { fs.StringVar(p, name, def, u) })
}

// Int defines an int flag with an environment fallback.
func Int(fs *flag.FlagSet, p *int, name, env string, def int, usage string) {
	bind(fs, name, env, usage, func(u string) { fs.IntVar(p, name, def, u) })
}

// Int64 defines an int64 flag with an environment fallback.
func Int64(fs *flag.FlagSet, p *int64, name, env string, def int64, usage string) {
	bind(fs, name, env, usage, func(u string) { fs.Int64Var(p, name, def, u) })
}

// Bool defines a bool flag with an environment fallback (1, t, true, 0, f, false, ...).
func Bool(fs *flag.FlagSet, p *bool, name, env string, def bool, usage string) {
	bind(fs, name, env, usage, func(u string) { fs.BoolVar(p, name, def, u) })
}

// Duration defines a duration flag (e.g. 5s, 1m30s) with an environment fallback.
func Duration(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	bind(fs, name, env, usage, func(u string) { fs.DurationVar(p, name, def, u) })
}

// Parse parses args into fs and reports environment variables whose values were invalid
// together with any flag error. With flag.ContinueOnError, -h/--help gives flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	mu.Lock()
	envErrs := envErrors[fs]
	delete(envErrors, fs)
	mu.Unlock()
	if err := fs.Parse(args); err != nil {
		return err
	}
	// An invalid environment value does not matter when the flag overrode it.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	for _, e := range envErrs {
		if !set[e.flag] {
			errs = append(errs, e.err)
		}
	}
	return errors.Join(errs...)
}

// Redact hides the password in a URL, or in each of a comma-separated list of URLs
// (amqp://a,amqp://b) and in multi-host MongoDB URIs (mongodb://u:p@h1,h2/db), for logs and
// error messages: "amqp://guest:guest@host/" becomes "amqp://guest:xxxxx@host/". A password
// may hold characters that should have been escaped ('/', '?', '#', '@'), so the userinfo is
// taken to end at the last '@'; when what precedes it holds '/', '?' or '#' (a password
// with those, or an '@' in the path or query: the two cannot be told apart), the whole
// userinfo is hidden: "amqp://xxxxx@host/". Anything without scheme:// or an '@' after it
// comes back unchanged.
func Redact(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	// Split on the commas that start a new URL (a scheme follows); commas inside one
	// URL's host list stay.
	var parts []string
	rest := raw
	for {
		i := nextURL(rest)
		if i < 0 {
			parts = append(parts, redactOne(rest))
			break
		}
		parts = append(parts, redactOne(rest[:i]))
		rest = rest[i+1:]
	}
	return strings.Join(parts, ",")
}

// nextURL returns the index of the comma in s that begins another scheme://, or -1.
func nextURL(s string) int {
	start := strings.Index(s, "://")
	if start < 0 {
		return -1
	}
	for i := start + 3; i < len(s); i++ {
		if s[i] != ',' {
			continue
		}
		next := s[i+1:]
		j := strings.Index(next, "://")
		if j > 0 && !strings.ContainsAny(next[:j], "/@,:?#") {
			return i
		}
	}
	return -1
}

func redactOne(u string) string {
	s := strings.Index(u, "://")
	if s < 0 {
		return u
	}
	after := u[s+3:]
	at := strings.LastIndex(after, "@")
	if at < 0 {
		return u
	}
	userinfo := after[:at]
	if strings.ContainsAny(userinfo, "/?#") {
		return u[:s+3] + "xxxxx" + after[at:]
	}
	colon := strings.Index(userinfo, ":")
	if colon < 0 {
		return u // a user name alone
	}
	return u[:s+3] + userinfo[:colon] + ":xxxxx" + after[at:]
}

// Usage returns a flag.FlagSet Usage function that prints a one-line synopsis, an optional
// description and the flags with their environment variables.
func Usage(fs *flag.FlagSet, synopsis, description string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n", synopsis)
		if description != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(description))
		}
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
}
