package cache

import (
	"fmt"
	"testing"
	"time"
)

func TestLocalBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	entry := func(n int) *Entry { return &Entry{Body: make([]byte, n), Expires: now.Add(time.Hour)} }
	has := func(l *local, keys ...string) string {
		s := ""
		for _, k := range keys {
			if l.get(Key{Scope: k}, now) != nil {
				s += k
			}
		}
		return s
	}

	l := newLocal(time.Second, 2, 1<<20)
	for i := range 3 {
		l.put(fmt.Sprint(i), Key{Scope: fmt.Sprint(i)}, entry(10), now)
	}
	if got := has(l, "0", "1", "2"); got != "12" {
		t.Errorf("entries kept under a bound of 2 = %q, want the newest two %q", got, "12")
	}

	l = newLocal(time.Second, 100, 2500) // entries of 450 bytes weigh 580: four fit
	for _, k := range []string{"a", "b", "c", "d"} {
		l.put(k, Key{Scope: k}, entry(450), now)
	}
	l.put("big", Key{Scope: "big"}, entry(1000), now) // over a quarter of the budget: not kept
	l.put("e", Key{Scope: "e"}, entry(450), now)
	if got := has(l, "a", "b", "c", "d", "big", "e"); got != "bcde" {
		t.Errorf("entries kept under 2500 bytes = %q, want %q", got, "bcde")
	}
	if l.bytes > l.maxBytes || len(l.items) != l.order.Len() {
		t.Errorf("bytes %d of %d, %d items, %d in order", l.bytes, l.maxBytes, len(l.items), l.order.Len())
	}

	l.put("stale", Key{Scope: "stale"}, &Entry{Expires: now.Add(-time.Second)}, now)
	if l.get(Key{Scope: "stale"}, now) != nil {
		t.Error("an expired entry was kept")
	}

	if newLocal(-1, 10, 10) != nil || newLocal(0, 10, 10) != nil {
		t.Error("newLocal with no lifetime made an L1")
	}
	var none *local
	none.put("x", Key{}, entry(1), now)
	if none.get(Key{}, now) != nil {
		t.Error("a nil L1 answered")
	}
	none.purge("s", "", 0)
}

func TestLocalPurge(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := &Entry{Expires: now.Add(time.Hour)}
	l := newLocal(time.Second, 100, 1<<20)
	keys := map[string]Key{
		"a1": {Scope: "a", Operation: "topic", Topic: 1}, "a2": {Scope: "a", Operation: "topic", Topic: 2},
		"a1h": {Scope: "a", Operation: "html", Topic: 1}, "b1": {Scope: "b", Operation: "topic", Topic: 1},
	}
	for rk, k := range keys {
		l.put(rk, k, e, now)
	}
	l.purge("a", "", 1)
	l.purge("a", "topic", 2)
	for rk, want := range map[string]bool{"a1": false, "a2": false, "a1h": false, "b1": true} {
		if got := l.get(keys[rk], now) != nil; got != want {
			t.Errorf("after purge, %s kept = %v, want %v", rk, got, want)
		}
	}
}
