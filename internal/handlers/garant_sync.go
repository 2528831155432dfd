package handlers

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// SyncLimits reads Garant's /v2/limits with cred, through q's rate family
// like any Garant call, and lowers q's remaining counts to what Garant
// reports (Garant is the source of truth; it never raises them). It also
// records, for every replica, whether the credential's links_control is
// split: counted per method when /v2/limits lists find-hyperlinks,
// find-modified and block-on-control/changed as separate entries (see
// applyLimits and quota.SetSplit). A 401 is a rejected credential
// (OnRejected).
func (g *Garant) SyncLimits(ctx context.Context, q *quota.Engine, cred *tenant.Credential) error {
	c := &garantCall{g: g, q: q, op: "garantGetLimits", tenant: &tenant.Tenant{}, cred: cred}
	_, err := c.syncLimits(ctx)
	if garant.StatusOf(err) == http.StatusUnauthorized {
		g.rejected(cred.Name)
	}
	return err
}

// GarantLimitsSync syncs every Garant credential's limits periodically
// (besides the syncs after a 423 or a 401 probe). Replicas share the work:
// before syncing a credential, a replica takes a Redis lock on it (SET NX)
// that expires a little before the next round, so about one replica per
// round calls /v2/limits for it.
type GarantLimitsSync struct {
	Garant      *Garant
	Quota       *quota.Engine
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
func (s *GarantLimitsSync) Run(ctx context.Context) {
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
func (s *GarantLimitsSync) Round(ctx context.Context) int {
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
		err := s.Garant.SyncLimits(cctx, s.Quota, cred)
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
func (s *GarantLimitsSync) lock(ctx context.Context, credential string) bool {
	rctx, cancel := context.WithTimeout(ctx, orDuration(s.RedisTimeout, time.Second))
	defer cancel()
	ttl := s.interval() * 8 / 10
	ok, err := s.Redis.SetNX(rctx, garantSyncLockKey(credential), strconv.FormatInt(time.Now().UnixMilli(), 10), ttl).Result()
	if err != nil {
		if ctx.Err() == nil {
			s.log().Warn("garant limits sync: cannot take the lock", "upstream", "garant", "credential", credential, "error", err.Error())
		}
		return false
	}
	return ok
}

// garantSyncLockKey shares the quota keys' hash tag.
func garantSyncLockKey(credential string) string {
	return "{cred:" + credential + "}:garant:limits-sync"
}

func (s *GarantLimitsSync) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *GarantLimitsSync) interval() time.Duration {
	return orDuration(s.Interval, 5*time.Minute)
}

// jittered is the interval ± 10 %.
func (s *GarantLimitsSync) jittered() time.Duration {
	d := s.interval()
	return d - d/10 + rand.N(d/5+1)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
