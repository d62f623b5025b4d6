package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/warrenhq/warren/internal/testenv"
)

// browser is a headless Chromium driven through chromedp, one tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts a fresh headless Chromium (its own profile, no network of its own
// beyond the pages it is sent to) that lives until the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first call starts the browser and must not carry a deadline (it would stop the
	// browser with it); a watchdog bounds it instead.
	watchdog := time.AfterFunc(90*time.Second, cancelTab)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !watchdog.Stop() {
		t.Fatalf("browser: Chromium %s did not start within 90 s", exe)
	}
	if err != nil {
		t.Fatalf("browser: starting Chromium %s: %v", exe, err)
	}
	return &browser{t: t, ctx: ctx}
}

// run runs steps with a deadline and fails the test when one fails.
func (b *browser) run(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v (at %s)", what, err, b.location())
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, what, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: %s: %v (at %s)", what, err, b.location())
	}
	return v
}

func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// text is the text of the first element matching the CSS selector, "" when none does.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, "reading "+sel,
		fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent.trim()`, sel))
}

// attr is an attribute of the first element matching the CSS selector, "" when none does.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	return eval[string](b, "reading "+sel,
		fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute(%q) || ""`, sel, name))
}

// waitText polls until the text of sel satisfies ok (the page refreshes itself), or fails
// the test with the last text seen.
func (b *browser) waitText(sel, want string, timeout time.Duration, ok func(got string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := b.text(sel)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: %s still %q after %s, want %s (at %s)", sel, got, timeout, want, b.location())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *browser) waitTextIs(sel, want string, timeout time.Duration) {
	b.t.Helper()
	b.waitText(sel, want, timeout, func(got string) bool { return got == want })
}

func (b *browser) waitTextHas(sel, want string, timeout time.Duration) string {
	b.t.Helper()
	return b.waitText(sel, "text holding "+want, timeout, func(got string) bool { return strings.Contains(got, want) })
}

// screenshot saves the whole page as name.png in the test's artifact directory (kept with
// go test -artifacts), and in WARREN_SCREENSHOT_DIR when that is set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	dirs := []string{b.t.ArtifactDir()}
	if d := os.Getenv("WARREN_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.t.Fatal(err)
		}
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Fatalf("saving %s: %v", p, err)
		}
		b.t.Logf("screenshot %s", p)
	}
}

// fmtSscan reads the leading number of a cell such as "3: 0, 4, 7".
func fmtSscan(s string, n *int) (int, error) { return fmt.Sscanf(strings.TrimSpace(s), "%d:", n) }
