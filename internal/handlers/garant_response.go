package handlers

import (
	"bytes"
	"io"
	"mime"

	"github.com/legalgate/legalgate/internal/cache"
)

// came from the cache).
func cacheHeaders(res *cache.Result) (status *string, age *int) {
	if res.Status != "" {
		status = &res.Status
	}
	if res.Hit {
		age = &res.Age
	}
	return status, age
}

// rateHeaders are the RateLimit fields of this request's own reservation.
func (c *garantCall) rateHeaders() (rl, policy *string) {
	if v := c.rl.Get("RateLimit"); v != "" {
		rl = &v
	}
	if v := c.rl.Get("RateLimit-Policy"); v != "" {
		policy = &v
	}
	return rl, policy
}

// mediaType is the bare media type of a Content-Type value.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

func bodyOf(res *cache.Result) (io.Reader, int64) {
	return bytes.NewReader(res.Entry.Body), int64(len(res.Entry.Body))
}
