package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters (no replicas) owned by a test.
type Cluster struct {
	Addrs   []string
	servers []*Server
}

// StartCluster runs n cluster-enabled redis-server processes in separate
// directories, joins them with `redis-cli --cluster create` and waits for
// cluster_state:ok on every node. The processes stop when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server not found on PATH: %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redis-cli not found on PATH: %v", err)
	}
	c := &Cluster{}
	for range n {
		port := clusterPort(tb)
		args := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", tb.TempDir(), "--daemonize", "no",
			"--loglevel", "warning", "--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port), "--cluster-node-timeout", "5000"}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start redis-server: %v", err)
		}
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
		tb.Cleanup(s.Stop)
		waitReady(tb, s.Addr)
		c.servers = append(c.servers, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := append([]string{"--cluster", "create"}, c.Addrs...)
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK(tb)
	return c
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (c *Cluster) waitOK(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range c.Addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		var info string
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, _ = rdb.ClusterInfo(ctx).Result()
			cancel()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				_ = rdb.Close()
				tb.Fatalf("redis cluster node %s not ok within 20s:\n%s", addr, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = rdb.Close()
	}
}

// clusterPort returns a free port P whose cluster bus port P+10000 is free
// too.
func clusterPort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		port := FreePort(tb)
		if port+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port
	}
	tb.Fatalf("no free port pair for a cluster node")
	return 0
}
