package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium (or Chrome) for browser tests: WARREN_CHROMIUM,
// else the first of chromium, chromium-browser, google-chrome on PATH. When there is none it
// fails the test under CI and skips it elsewhere (scripts/chromium.sh installs Debian's).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WARREN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (set WARREN_CHROMIUM, or run scripts/chromium.sh to install Debian's chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
