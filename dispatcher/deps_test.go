package dispatcher_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDoesNotDependOnTheClient keeps the server apart from its client: the wire types are
// package api's, and the dashboard (which reads through the client) is mounted by
// cmd/dispatcher, not imported here. It fails naming every dependency that imports the
// client.
func TestDoesNotDependOnTheClient(t *testing.T) {
	const clientPkg = "github.com/warrenhq/warren/client"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == clientPkg {
			t.Errorf("package dispatcher depends on %s", clientPkg)
		}
		for _, imp := range f[1:] {
			if imp == clientPkg {
				t.Errorf("%s, a dependency of package dispatcher, imports %s", f[0], clientPkg)
			}
		}
	}
}
