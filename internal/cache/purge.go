package cache

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Purge deletes the entries of scope, optionally only those of one operation
// (operation != "") and about one document (topic > 0), and returns how many
// it deleted. Unlike lookups it reports Redis errors: an admin asked for it.
//
// The matching entries of this process's L1 go at once; other processes
// sharing the Redis may serve theirs for up to Config.LocalTTL.
//
// It first waits (up to ctx) for this process's stores still being written
// behind their answers, so that an answer sent before the purge is not
// written back after it.
func (s *Store) Purge(ctx context.Context, scope, operation string, topic int) (int, error) {
	s.l1.purge(scope, operation, topic)
	op, t := "*", "*"
	if operation != "" {
		op = globEscape(operation)
	}
	if topic > 0 {
		t = strconv.Itoa(topic)
	}
	pattern := globEscape(s.cfg.Prefix+scope) + ":" + op + ":" + t + ":*"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var deleted int64
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			// One DEL per key: on a cluster the keys live in different slots.
			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range batch {
					p.Del(ctx, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, cmd := range cmds {
				deleted += cmd.(*redis.IntCmd).Val()
			}
			batch = batch[:0]
			return nil
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.rdb)
	}
	if err != nil {
		s.m.errors.WithLabelValues("purge").Inc()
		return int(deleted), fmt.Errorf("cache: purge %s: %w", scope, err)
	}
	return int(deleted), nil
}

// globEscape quotes the glob characters of a SCAN pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
