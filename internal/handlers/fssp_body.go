package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
)

// fsspBody is the 200 answer of fsspGetTask for one state of a task: the
// task converted and encoded once (as the generated response type would,
// byte for byte), written as it is to every request answered with that
// state: the thousands of long polls a task's finish wakes at once share
// one encoding. A final task's answer is the *fsspBody itself.
type fsspBody struct {
	once   sync.Once
	body   []byte
	length []string // Content-Length
	err    error
}

// fsspUnfinished is the answer of an unfinished task: its body and when to
// poll again.
type fsspUnfinished struct {
	body       *fsspBody
	retryAfter []string
}

func (b *fsspBody) write(w http.ResponseWriter, retryAfter []string) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h["Content-Length"] = b.length
	if retryAfter != nil {
		h["Retry-After"] = retryAfter
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.body)
	return err
}

func (b *fsspBody) VisitFsspGetTaskResponse(w http.ResponseWriter) error { return b.write(w, nil) }

func (a fsspUnfinished) VisitFsspGetTaskResponse(w http.ResponseWriter) error {
	return a.body.write(w, a.retryAfter)
}

// encode converts and encodes t once.
func (b *fsspBody) encode(t *fssptasks.Task) {
	b.once.Do(func() {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(fsspTask(t)); err != nil {
			b.err = fmt.Errorf("encode FSSP task %s: %w", t.ID, err)
			return
		}
		b.body = bytes.Clone(buf.Bytes())
		b.length = []string{strconv.Itoa(len(b.body))}[:1:1]
	})
}

// fsspBodyCache keeps the encoded answers of the latest states of recently
// answered tasks, at most maxEntries of them and maxBytes of bodies (the
// oldest go first), keyed by tenant and task and checked against the
// state's revision and update time. An entry is created before its encoding
// runs, so the waiters of one state that arrive together wait for the one
// encoding instead of each making its own.
type fsspBodyCache struct {
	maxEntries, maxBytes int

	mu    sync.Mutex
	m     map[fsspBodyKey]*fsspBodyEntry
	order []fsspBodyKey // insertion order, for eviction
	bytes int
}

type fsspBodyKey struct{ tenant, task string }

type fsspBodyEntry struct {
	revision int64
	updated  time.Time
	body     *fsspBody
	size     int // counted in bytes once encoded
}

// newFSSPBodyCache returns the cache of encoded task answers of one server.
func newFSSPBodyCache() *fsspBodyCache {
	return &fsspBodyCache{maxEntries: 1024, maxBytes: 32 << 20, m: map[fsspBodyKey]*fsspBodyEntry{}}
}

// get returns the encoded answer of t, a state of a task of tenantID.
func (c *fsspBodyCache) get(tenantID string, t *fssptasks.Task) (*fsspBody, error) {
	k := fsspBodyKey{tenantID, t.ID}
	c.mu.Lock()
	e := c.m[k]
	switch {
	case e != nil && e.revision == t.Revision() && e.updated.Equal(t.UpdatedAt):
	case e != nil && (e.revision > t.Revision() || e.revision == t.Revision() && e.updated.After(t.UpdatedAt)):
		// An older state than the cached one (a slow reader): not kept.
		c.mu.Unlock()
		b := &fsspBody{}
		b.encode(t)
		return b, b.err
	default:
		if e != nil {
			c.bytes -= e.size
		} else {
			c.order = append(c.order, k)
		}
		e = &fsspBodyEntry{revision: t.Revision(), updated: t.UpdatedAt, body: &fsspBody{}}
		c.m[k] = e
		c.evictLocked()
	}
	c.mu.Unlock()
	b := e.body
	b.encode(t)
	c.mu.Lock()
	switch {
	case c.m[k] != e || e.size != 0: // replaced, evicted or counted
	case b.err != nil:
		delete(c.m, k)
		c.order = slices.DeleteFunc(c.order, func(o fsspBodyKey) bool { return o == k })
	default:
		e.size = len(b.body)
		c.bytes += e.size
		c.evictLocked()
	}
	c.mu.Unlock()
	return b, b.err
}

// evictLocked drops the oldest entries while the cache is over its bounds.
func (c *fsspBodyCache) evictLocked() {
	for len(c.order) > 0 && (len(c.m) > c.maxEntries || c.bytes > c.maxBytes) {
		k := c.order[0]
		c.order[0] = fsspBodyKey{}
		c.order = c.order[1:]
		if e := c.m[k]; e != nil {
			c.bytes -= e.size
			delete(c.m, k)
		}
	}
	if len(c.order) == 0 {
		c.order = nil
	}
}
