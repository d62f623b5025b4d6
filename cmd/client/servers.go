package main

import (
	"fmt"
	"net/url"
	"strings"
)

// The process groups `client bench` reports CPU for.
const (
	groupRabbitMQ   = "rabbitmq"
	groupFerretDB   = "ferretdb"
	groupMongoDB    = "mongod"
	groupPostgreSQL = "postgresql"
	groupDispatcher = "dispatcher"
	groupWorker     = "worker" // one group per process: "worker PID"
	groupClient     = "client"
)

// fleetProcs says which processes on this machine serve the run: the client itself, the
// dispatcher (its pid from /v1/stats, 0 if unknown), the workers of its hub, the broker,
// and the store — the FerretDB that listens on the port of the dispatcher's store URI and
// the PostgreSQL backends of that FerretDB's database (other FerretDBs and databases on
// the same servers are other load).
type fleetProcs struct {
	root       string // normally /proc
	self       int
	dispatcher int
	hub        string // "" matches every worker
}

// groups names the group of every process in s that serves the run.
func (f fleetProcs) groups(s procSample) map[int]string {
	storePort := "27017"
	if d, ok := s.procs[f.dispatcher]; ok {
		storePort = uriPort(f.setting(d, "mongo-uri", "WARREN_MONGO_URI", "mongodb://127.0.0.1:27017"))
	}
	pgDatabases := map[string]bool{}
	ferret := map[int]bool{}
	for pid, p := range s.procs {
		if p.comm == "ferretdb" && (storePort == "" || listensOn(p.args, storePort)) {
			ferret[pid] = true
			for _, a := range p.args {
				if db := postgresDatabase(a); db != "" {
					pgDatabases[db] = true
				}
			}
		}
	}
	out := map[int]string{}
	for pid, p := range s.procs {
		var g string
		switch {
		case pid == f.self:
			g = groupClient
		case pid == f.dispatcher || (f.dispatcher == 0 && p.comm == "dispatcher"):
			g = groupDispatcher
		case p.comm == "worker" && (f.hub == "" || f.setting(p, "hub", "WARREN_HUB", "warren") == f.hub):
			g = fmt.Sprintf("%s %d", groupWorker, pid)
		case p.comm == "beam.smp" || p.comm == "erl_child_setup" || p.comm == "epmd" || p.comm == "inet_gethost":
			g = groupRabbitMQ
		case ferret[pid]:
			g = groupFerretDB
		case p.comm == "mongod":
			g = groupMongoDB
		case p.comm == "postgres":
			if db := backendDatabase(p.args); db == "" || len(pgDatabases) == 0 || pgDatabases[db] {
				g = groupPostgreSQL
			}
		}
		if g != "" {
			out[pid] = g
		}
	}
	return out
}

// setting reads a Warren binary's setting as config.Parse does: its flag (-name v,
// --name=v, ...), else its environment variable, else the default.
func (f fleetProcs) setting(p process, flag, env, def string) string {
	for i, a := range p.args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != flag {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(p.args) {
			return p.args[i+1]
		}
	}
	if v := environ(f.root, p.pid, env); v != "" {
		return v
	}
	return def
}

// uriPort is the port of a MongoDB URI's first host (27017 when it names none), or "" when
// it cannot tell (mongodb+srv, a malformed URI). The URI may hold a password: only the
// port leaves this function.
func uriPort(uri string) string {
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	host, _, _ := strings.Cut(rest, ",")
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		return host[i+1:]
	}
	return "27017"
}

// listensOn says whether a command line names an address on port (FerretDB's listen flag).
func listensOn(args []string, port string) bool {
	for _, a := range args {
		if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") {
			a = v
		}
		if strings.HasSuffix(a, ":"+port) {
			return true
		}
	}
	return false
}

// postgresDatabase is the database of a postgres:// URL argument, or "".
func postgresDatabase(arg string) string {
	if _, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(arg, "-") {
		arg = v
	}
	if !strings.HasPrefix(arg, "postgres://") && !strings.HasPrefix(arg, "postgresql://") {
		return ""
	}
	u, err := url.Parse(arg)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// backendDatabase reads a PostgreSQL backend's title, "postgres: [CLUSTER: ]USER DB
// HOST(PORT) STATE", and returns DB; "" for the server's own processes (checkpointer,
// walwriter, ...), which serve every database.
func backendDatabase(args []string) string {
	title, ok := strings.CutPrefix(strings.Join(args, " "), "postgres: ")
	if !ok {
		return ""
	}
	f := strings.Fields(title)
	if len(f) > 0 && strings.HasSuffix(f[0], ":") {
		f = f[1:] // the cluster's name
	}
	if len(f) >= 3 && (strings.Contains(f[2], "(") || f[2] == "[local]") {
		return f[1]
	}
	return ""
}
