package fairshare

import (
	"context"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// rate takes one unit of the tenant's rate of r.Upstream: in Redis, or in
// process while Redis does not answer.
func (l *Limiter) rate(ctx context.Context, r Request, rt Rate) error {
	if rt.PerSecond <= 0 {
		return nil
	}
	burst := rt.Burst
	if burst <= 0 {
		burst = rt.PerSecond
	}
	key := "fair:" + r.Tenant + ":" + r.Upstream
	if l.rates != nil {
		rctx, cancel := context.WithTimeout(ctx, l.timeout)
		res, err := l.rates.Allow(rctx, key, redis_rate.Limit{Rate: rt.PerSecond, Burst: burst, Period: time.Second})
		cancel()
		if err == nil {
			if res.Allowed > 0 {
				return nil
			}
			return l.refuse(r, LimitRate+"."+r.Upstream, rt.PerSecond, res.RetryAfter)
		}
		l.m.fallbacks.WithLabelValues(r.Upstream).Inc()
		if now := time.Now().UnixNano(); now-l.warned.Load() > int64(10*time.Second) {
			l.warned.Store(now)
			l.log.Warn("fair-share rates counted in process: redis did not answer", "upstream", r.Upstream, "error", err.Error())
		}
	}
	if wait, ok := l.localRate(key, rt.PerSecond, burst).take(time.Now()); !ok {
		return l.refuse(r, LimitRate+"."+r.Upstream, rt.PerSecond, wait)
	}
	return nil
}

// localRate is the in-process stand-in of one Redis rate.
type localRate struct {
	mu  sync.Mutex
	lim *rate.Limiter
}

func (l *Limiter) localRate(key string, perSecond, burst int) *localRate {
	if v, ok := l.local.Load(key); ok {
		return v.(*localRate)
	}
	v, _ := l.local.LoadOrStore(key, &localRate{lim: rate.NewLimiter(rate.Limit(perSecond), burst)})
	return v.(*localRate)
}

// take takes one unit now, or says how long until one is free.
func (lr *localRate) take(now time.Time) (wait time.Duration, ok bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	res := lr.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
