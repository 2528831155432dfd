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

// exhaustedCache remembers owners known to be exhausted until an instant T,
// so that their requests are rejected without a Redis call until then.
//
// What can free units before T (a refund, a change of a credential's split,
// on any replica) is published on the engine's invalidation channel and
// dropped here by Run. An entry lives until T only while that subscription
// is confirmed; otherwise (Run not running, not yet subscribed, or the
// subscription lost) entries live at most maxAge, the old safety cap.
//
// gen changes with every invalidation and every change of the subscription:
// an exhaustion learnt from a script that ran before such a change is not
// stored (the invalidation may have arrived before the answer of the
// script), so a refund is never undone by a late put.
type exhaustedCache struct {
	maxAge time.Duration

	mu   sync.Mutex
	m    map[localKey]localEntry
	gen  uint64
	live bool   // subscribed to invalidations
	subs uint64 // how many times the subscription was confirmed
}

func newExhaustedCache(maxAge time.Duration) *exhaustedCache {
	return &exhaustedCache{maxAge: maxAge, m: make(map[localKey]localEntry)}
}

// generation is the token to pass to put for what a script about to run
// will tell.
func (c *exhaustedCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put records that k is exhausted until until, as learnt by a script that
// ran after generation returned gen.
func (c *exhaustedCache) put(k localKey, until time.Time, rej *Rejection, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if !c.live {
		until = minTime(until, now.Add(c.maxAge))
	}
	if old, ok := c.m[k]; ok && old.until.After(until) {
		return
	}
	c.m[k] = localEntry{until: until, rej: rej}
}

// invalidate drops the entries of keys; an empty owner matches every owner.
func (c *exhaustedCache) invalidate(keys []localKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if k.owner != "" {
			delete(c.m, k)
			continue
		}
		for e := range c.m {
			if e.scope == k.scope && e.upstream == k.upstream && e.family == k.family {
				delete(c.m, e)
			}
		}
	}
}

// invalidateAll drops every entry.
func (c *exhaustedCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// setLive records whether the invalidation subscription is confirmed. On a
// loss, invalidations may have been missed: every entry is cut to the cap.
func (c *exhaustedCache) setLive(live bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == live {
		return
	}
	c.live, c.gen = live, c.gen+1
	if live {
		c.subs++
		return
	}
	capAt := now.Add(c.maxAge)
	for k, e := range c.m {
		if e.until.After(capAt) {
			e.until = capAt
			c.m[k] = e
		}
	}
}

func (c *exhaustedCache) isLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

func (c *exhaustedCache) subscriptions() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs
}

// lookup returns the rejection of the first of p's owners known to be
// exhausted at now; expired entries are dropped. Every variant of a split
// family is looked at: a change of the split drops the other variant's
// entries.
func (c *exhaustedCache) lookup(p *plan, now time.Time) *Rejection {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return nil
	}
	for _, mk := range p.marks {
		if rej := c.get(localKey{ScopeCredential, p.req.Credential, p.req.Upstream, mk.family}, now); rej != nil {
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
