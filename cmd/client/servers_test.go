package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestURIPort(t *testing.T) {
	for uri, want := range map[string]string{
		"mongodb://127.0.0.1:27019/":                     "27019",
		"mongodb://user:p@ss:w0rd@db.example:27021/?x=1": "27021",
		"mongodb://a:1,b:2/hub":                          "1",
		"mongodb://localhost/":                           "27017",
		"mongodb+srv://cluster.example/":                 "",
		"nonsense":                                       "",
	} {
		if got := uriPort(uri); got != want {
			t.Errorf("uriPort(%q) = %q, want %q", uri, got, want)
		}
	}
}

func TestBackendDatabase(t *testing.T) {
	for title, want := range map[string]string{
		"postgres: 15/main: postgres ferretdb_bench 127.0.0.1(56742) idle":   "ferretdb_bench",
		"postgres: app warren [local] SELECT":                                "warren",
		"postgres: 15/main: checkpointer ":                                   "",
		"postgres: 15/main: logical replication launcher":                    "",
		"/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main": "",
	} {
		if got := backendDatabase([]string{title}); got != want {
			t.Errorf("backendDatabase(%q) = %q, want %q", title, got, want)
		}
	}
}

// fakeProc writes an environ file for pid under root.
func fakeEnviron(t *testing.T, root string, pid int, kv string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environ"), []byte(kv+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The processes serving the run are told from the others on the same machine: FerretDB by
// the port of the dispatcher's store, PostgreSQL backends by that FerretDB's database,
// workers by their hub.
func TestFleetGroups(t *testing.T) {
	root := t.TempDir()
	fakeEnviron(t, root, 10, "WARREN_MONGO_URI=mongodb://127.0.0.1:27019/")
	fakeEnviron(t, root, 11, "WARREN_HUB=bench")
	fakeEnviron(t, root, 12, "WARREN_HUB=other")
	s := procSample{procs: map[int]process{
		1:  {pid: 1, comm: "client"},
		10: {pid: 10, comm: "dispatcher"},
		11: {pid: 11, comm: "worker"},
		12: {pid: 12, comm: "worker"},
		13: {pid: 13, comm: "worker", args: []string{"bin/worker", "--hub=bench"}},
		20: {pid: 20, comm: "beam.smp"},
		21: {pid: 21, comm: "erl_child_setup"},
		30: {pid: 30, comm: "ferretdb", args: []string{"ferretdb", "-listen", "127.0.0.1:27019", "-postgresql-url", "postgres://postgres@127.0.0.1:5432/ferretdb_bench"}},
		31: {pid: 31, comm: "ferretdb", args: []string{"ferretdb", "-listen", "127.0.0.1:27017", "-handler", "sqlite"}},
		40: {pid: 40, comm: "postgres", args: []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "x"}},
		41: {pid: 41, comm: "postgres", args: []string{"postgres: 15/main: walwriter "}},
		42: {pid: 42, comm: "postgres", args: []string{"postgres: 15/main: postgres ferretdb_bench 127.0.0.1(1) idle"}},
		43: {pid: 43, comm: "postgres", args: []string{"postgres: 15/main: postgres ferretdb_other 127.0.0.1(2) idle"}},
		50: {pid: 50, comm: "go"},
		51: {pid: 51, comm: "dispatcher"}, // another fleet's
	}}
	got := fleetProcs{root: root, self: 1, dispatcher: 10, hub: "bench"}.groups(s)
	want := map[int]string{1: groupClient, 10: groupDispatcher, 11: "worker 11", 13: "worker 13",
		20: groupRabbitMQ, 21: groupRabbitMQ, 30: groupFerretDB, 40: groupPostgreSQL, 41: groupPostgreSQL, 42: groupPostgreSQL}
	if len(got) != len(want) {
		t.Errorf("got %d groups %v, want %v", len(got), got, want)
	}
	for pid, g := range want {
		if got[pid] != g {
			t.Errorf("pid %d: got %q, want %q", pid, got[pid], g)
		}
	}
}
