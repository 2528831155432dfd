// Package benchproc starts and stops the child processes of the load
// benchmarks under bench/ (the gateway binary, redis-server, the upstream
// simulators) and reads what a process costs from /proc (Linux only).
package benchproc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// GoBuild builds pkg of the enclosing module into out.
func GoBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run from the module root): %w", pkg, err)
	}
	return nil
}

// Proc is one child process; its done channel closes when it has exited.
type Proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// Pid is the child's process id.
func (c *Proc) Pid() int { return c.cmd.Process.Pid }

// Procs starts child processes, each logging to Dir/NAME.log, and stops
// them, by pid.
type Procs struct {
	Dir    string
	OnStop []func() // in-process servers, stopped with the children
	list   []*Proc
}

// Start runs bin with args. The child also gets SIGKILL if this process
// dies without stopping it.
func (p *Procs) Start(name, bin string, args ...string) (*Proc, error) {
	log, err := os.Create(filepath.Join(p.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(c.done)
	}()
	p.list = append(p.list, c)
	return c, nil
}

// Stop sends c SIGTERM, and SIGKILL if it still runs 5 s later.
func (p *Procs) Stop(c *Proc) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// StopAll stops every child still running, newest first, then the
// in-process servers of OnStop.
func (p *Procs) StopAll() {
	for i := len(p.list) - 1; i >= 0; i-- {
		select {
		case <-p.list[i].done:
		default:
			p.Stop(p.list[i])
		}
	}
	p.list = nil
	for _, f := range p.OnStop {
		f()
	}
	p.OnStop = nil
}

// exited reports why c is no longer running, with the tail of its log.
func (p *Procs) exited(c *Proc) error {
	b, _ := os.ReadFile(filepath.Join(p.Dir, c.name+".log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-5):]
	return fmt.Errorf("%s exited (%v): %s", c.name, c.cmd.ProcessState, strings.Join(lines, " | "))
}

// WaitFor calls ready every 20 ms until it reports true, c exits or 20 s pass.
func (p *Procs) WaitFor(ctx context.Context, c *Proc, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if ready() {
			return nil
		}
		select {
		case <-c.done:
			return p.exited(c)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", c.name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Dials reports whether something accepts TCP connections at addr.
func Dials(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// RedisPings reports whether a Redis server answers PING at addr.
func RedisPings(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Answers200 reports whether GET url answers 200.
func Answers200(c *http.Client, url string) bool {
	res, err := c.Get(url)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// SHA256Hex is the lower-case hex SHA-256 of s: a key's tenants.*.keys_sha256.
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Memory is a sample of a process's memory from /proc/PID/status, in bytes:
// its resident set now and its peak (VmHWM).
type Memory struct{ RSS, HWM int64 }

// ReadMemory samples the memory of process pid.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
	}
	return m, nil
}

// CPUTime is the user and system CPU time process pid used so far, from
// /proc/PID/stat (clock ticks of 10 ms).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces): state is the
	// first, utime and stime the 12th and 13th.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %.80q", pid, b)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// SelfCPU is the user and system CPU time this process used so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
