package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one child process; done closes when it has exited.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// procs starts child processes, each logging to DIR/NAME.log, and stops
// them, by pid.
type procs struct {
	dir    string
	list   []*proc
	onStop []func() // in-process servers, stopped with the children
}

// start runs bin with args. The child also gets SIGKILL if this process
// dies without stopping it.
func (p *procs) start(name, bin string, args ...string) (*proc, error) {
	log, err := os.Create(filepath.Join(p.dir, name+".log"))
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
	c := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(c.done)
	}()
	p.list = append(p.list, c)
	return c, nil
}

// stop sends c SIGTERM, and SIGKILL if it still runs 5 s later.
func (p *procs) stop(c *proc) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// stopAll stops every child still running, newest first, then the
// in-process servers.
func (p *procs) stopAll() {
	for i := len(p.list) - 1; i >= 0; i-- {
		select {
		case <-p.list[i].done:
		default:
			p.stop(p.list[i])
		}
	}
	p.list = nil
	for _, f := range p.onStop {
		f()
	}
}

// exited reports why c is no longer running, with the tail of its log.
func (p *procs) exited(c *proc) error {
	b, _ := os.ReadFile(filepath.Join(p.dir, c.name+".log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = lines[max(0, len(lines)-5):]
	return fmt.Errorf("%s exited (%v): %s", c.name, c.cmd.ProcessState, strings.Join(lines, " | "))
}

// waitFor calls ready every 20 ms until it reports true, c exits or 20 s pass.
func (p *procs) waitFor(ctx context.Context, c *proc, ready func() bool) error {
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dials reports whether something accepts TCP connections at addr.
func dials(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
