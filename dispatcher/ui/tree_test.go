package ui_test

import (
	"strings"
	"testing"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
)

func TestChildrenExpandIntoATree(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("root", "Root", history.StatusRunning, "")
	r.seed("root:a", "Mid", history.StatusRunning, "root")
	r.seed("root:b", "Mid", history.StatusCompleted, "root")
	r.seed("root:a:1", "Leaf", history.StatusRunning, "root:a")
	r.seed("root:a:2", "Leaf", history.StatusFailed, "root:a")
	r.seed("root:a:1:x", "Leaf", history.StatusRunning, "root:a:1")

	p := r.get("/ui/instances/root")
	p.mustContain(t, `data-child="root:a"`, `data-child="root:b"`, `href="/ui/instances/root?expand=root%3Aa#children-section"`)
	p.mustNotContain(t, `data-child="root:a:1"`)
	p.mustContain(t, `Mid <span class="status completed">Completed</span>`) // each child's status, nothing more

	p = r.get("/ui/instances/root?expand=root%3Aa")
	p.mustContain(t, `data-child="root:a:1"`, `data-child="root:a:2"`,
		`href="/ui/instances/root#children-section"`, // root:a's toggle now collapses it
		`href="/ui/instances/root?expand=root%3Aa&amp;expand=root%3Aa%3A1#children-section"`)
	p.mustNotContain(t, `data-child="root:a:1:x"`)
	if a, one := strings.Index(p.body, `data-child="root:a"`), strings.Index(p.body, `data-child="root:a:1"`); one < a {
		t.Error("the grandchild is not under its parent")
	}

	p = r.get("/ui/instances/root?expand=root%3Aa&expand=root%3Aa%3A1&expand=root%3Ab")
	p.mustContain(t, `data-child="root:a:1:x"`, `no children`) // root:b has none
}
