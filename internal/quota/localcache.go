package quota

import (
	"sync"
	"time"
)

// localKey names one owner's family: the unit a known exhaustion covers.
type localKey struct {
	scope                   Scope
	owner, upstream, family string
}

type localEntry struct {
	until time.Time
	rej   *Rejection
}

// exhaustedCache remembers owners known to be exhausted until an instant, so
// that their requests are rejected without a Redis call until then.
type exhaustedCache struct {
	mu sync.Mutex
	m  map[localKey]localEntry
}

func newExhaustedCache() *exhaustedCache {
	return &exhaustedCache{m: make(map[localKey]localEntry)}
}

func (c *exhaustedCache) put(k localKey, until time.Time, rej *Rejection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok && old.until.After(until) {
		return
	}
	c.m[k] = localEntry{until: until, rej: rej}
}

func (c *exhaustedCache) forget(k localKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// lookup returns the rejection of the first of p's owners known to be
// exhausted at now; expired entries are dropped.
func (c *exhaustedCache) lookup(p *plan, now time.Time) *Rejection {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return nil
	}
	if p.mark != "" {
		if rej := c.get(localKey{ScopeCredential, p.req.Credential, p.req.Upstream, p.family}, now); rej != nil {
			return rej
		}
	}
	for i := range p.checks {
		r := &p.checks[i].rule
		if rej := c.get(localKey{r.Scope, r.Owner, r.Upstream, r.Family}, now); rej != nil {
			return rej
		}
	}
	return nil
}

func (c *exhaustedCache) get(k localKey, now time.Time) *Rejection {
	e, ok := c.m[k]
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		delete(c.m, k)
		return nil
	}
	return e.rej
}
