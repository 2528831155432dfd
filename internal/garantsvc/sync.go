package garantsvc

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/tenant"
)

// LimitsSync is the service's periodic job: it syncs every Garant
// credential's limits (besides the syncs after a 423 or a 401 probe).
// Replicas share the work: before syncing a credential, a replica takes a
// Redis lock on it (SET NX) that expires a little before the next round,
// so about one replica per round calls /v2/limits for it.
type LimitsSync struct {
	Service     *Service
	Redis       redis.UniversalClient
	Credentials []*tenant.Credential // the Garant credentials
	// Current, when set, replaces Credentials: the Garant credentials in
	// force at each round (a configuration reload changes them).
	Current func() []*tenant.Credential
	Log     *slog.Logger // nil: no logging

	// Interval is the time between rounds, give or take a tenth; 0: 5 minutes.
	Interval time.Duration
	// Timeout bounds the sync of one credential; 0: 30 s.
	Timeout time.Duration
	// RedisTimeout bounds taking a lock; 0: 1 s.
	RedisTimeout time.Duration
}

// Run syncs a round every Interval (with jitter) until ctx ends. The first
// round is one interval after the start.
func (s *LimitsSync) Run(ctx context.Context) {
	for {
		t := time.NewTimer(s.jittered())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.Round(ctx)
	}
}

// Round syncs every credential whose lock this replica takes, one after
// another, and returns how many it synced. Failures are logged, not
// returned: the next round tries again.
func (s *LimitsSync) Round(ctx context.Context) int {
	n := 0
	creds := s.Credentials
	if s.Current != nil {
		creds = s.Current()
	}
	for _, cred := range creds {
		if ctx.Err() != nil {
			return n
		}
		if !s.lock(ctx, cred.Name) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, orDuration(s.Timeout, 30*time.Second))
		err := s.Service.SyncLimits(cctx, cred)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log().Warn("garant limits sync failed", "upstream", "garant", "credential", cred.Name, "error", err.Error())
			}
			continue
		}
		n++
	}
	return n
}

// lock takes the round's lock on a credential. It expires a little before
// the earliest next round, so the replica that synced may sync again then.
func (s *LimitsSync) lock(ctx context.Context, credential string) bool {
	rctx, cancel := context.WithTimeout(ctx, orDuration(s.RedisTimeout, time.Second))
	defer cancel()
	ttl := s.interval() * 8 / 10
	ok, err := s.Redis.SetNX(rctx, syncLockKey(credential), strconv.FormatInt(time.Now().UnixMilli(), 10), ttl).Result()
	if err != nil {
		if ctx.Err() == nil {
			s.log().Warn("garant limits sync: cannot take the lock", "upstream", "garant", "credential", credential, "error", err.Error())
		}
		return false
	}
	return ok
}

// syncLockKey shares the quota keys' hash tag.
func syncLockKey(credential string) string {
	return "{cred:" + credential + "}:garant:limits-sync"
}

func (s *LimitsSync) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *LimitsSync) interval() time.Duration {
	return orDuration(s.Interval, 5*time.Minute)
}

// jittered is the interval ± 10 %.
func (s *LimitsSync) jittered() time.Duration {
	d := s.interval()
	return d - d/10 + rand.N(d/5+1)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
