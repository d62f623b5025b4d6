// Command ferretdb runs FerretDB v1.24 as a MongoDB-protocol stand-in for Warren's tests and
// local runs. It embeds the ferretdb package because the plain `go install` binary panics on a
// missing build/version/version.txt.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	dir := flag.String("sqlite-dir", "", "SQLite data folder (default: a temp folder removed on exit)")
	pgURL := flag.String("postgresql-url", "postgres://postgres@127.0.0.1:5432/ferretdb", "PostgreSQL URL (the database must exist)")
	verbose := flag.Bool("v", false, "log at info level (default: errors only)")
	pingAddr := flag.String("ping", "", "only check that a MongoDB-protocol server at this address answers `ping`, then exit 0 or 1")
	flag.Parse()
	if *pingAddr != "" {
		if err := ping(*pingAddr, 2*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "ferretdb: ping", *pingAddr+":", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*listen, *handler, *dir, *pgURL, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, handler, dir, pgURL string, verbose bool) error {
	if handler == "sqlite" && dir == "" {
		tmp, err := os.MkdirTemp("", "warren-ferretdb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	level := slog.LevelError
	if verbose {
		level = slog.LevelInfo
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: listen},
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Handler:       handler,
		PostgreSQLURL: pgURL,
		SQLiteURL:     "file:" + abs + "/",
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "ferretdb: %s backend, listening on %s\n", handler, listen)
	return f.Run(ctx)
}
