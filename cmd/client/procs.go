package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux that Go runs on
// without cgo (reading sysconf(_SC_CLK_TCK) would need it).
const clockTicks = 100

// process is one process as /proc shows it: enough to tell what it is and how much CPU it
// has used (user + system, in seconds).
type process struct {
	pid  int
	comm string   // the executable's name, as the kernel keeps it (15 characters)
	args []string // the command line; a PostgreSQL backend rewrites it into its title
	cpu  float64
}

// procSample is one reading of the machine: every process, and the CPU time all cores have
// spent busy (neither idle nor waiting for I/O) since boot.
type procSample struct {
	at    time.Time
	busy  float64
	procs map[int]process
}

// readProcs reads root (normally /proc). Processes that end while it reads are left out.
func readProcs(root string) (procSample, error) {
	s := procSample{at: time.Now(), procs: map[int]process{}}
	stat, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return s, err
	}
	if s.busy, err = busySeconds(stat); err != nil {
		return s, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProcess(root, pid); err == nil {
			s.procs[pid] = p
		}
	}
	return s, nil
}

// busySeconds reads the first line of /proc/stat: cpu user nice system idle iowait irq
// softirq steal ..., in clock ticks, and returns all but idle and iowait, in seconds.
func busySeconds(stat []byte) (float64, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy float64
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy / clockTicks, nil
}

func readProcess(root string, pid int) (process, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return process{}, err
	}
	p, err := parseStat(stat)
	if err != nil {
		return process{}, err
	}
	p.pid = pid
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.args = splitNUL(cmdline)
	}
	return p, nil
}

// parseStat reads /proc/PID/stat: "pid (comm) state ppid ... utime stime ...". The name
// may hold spaces and parentheses, so the fields are counted from its last ')'.
func parseStat(stat []byte) (process, error) {
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return process{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(stat[close+1:]))
	if len(f) < 13 { // state is f[0]; utime and stime are fields 14 and 15 of the line
		return process{}, errors.New("short stat")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return process{}, errors.New("malformed stat times")
	}
	return process{comm: string(stat[open+1 : close]), cpu: (utime + stime) / clockTicks}, nil
}

func splitNUL(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// environ reads one variable of a process's environment (as it was when it started), or "".
func environ(root string, pid int, name string) string {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "environ"))
	if err != nil {
		return ""
	}
	for _, kv := range splitNUL(b) {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// readPids is a cheaper readProcs for a sampler: the machine's line and the CPU of the
// given processes only (those that have ended are left out).
func readPids(root string, pids map[int]string) (procSample, error) {
	s := procSample{at: time.Now(), procs: make(map[int]process, len(pids))}
	stat, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return s, err
	}
	if s.busy, err = busySeconds(stat); err != nil {
		return s, err
	}
	for pid := range pids {
		b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		if p, err := parseStat(b); err == nil {
			p.pid = pid
			s.procs[pid] = p
		}
	}
	return s, nil
}
