package fips

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/tenant"
)

// dictCache keeps dictionary answers in Redis. It fails open: a Redis error
// or timeout is a miss, and the dictionary is fetched from FIPS.
type dictCache struct {
	rdb     redis.UniversalClient
	ttl     time.Duration
	timeout time.Duration
}

func newDictCache(rdb redis.UniversalClient, ttl, timeout time.Duration) dictCache {
	if ttl <= 0 {
		ttl = time.Hour
	}
	if timeout <= 0 {
		timeout = 250 * time.Millisecond
	}
	return dictCache{rdb: rdb, ttl: ttl, timeout: timeout}
}

func (d dictCache) get(ctx context.Context, key string) ([]Entry, bool) {
	if d.rdb == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	b, err := d.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, false
	}
	var out []Entry
	if json.Unmarshal(b, &out) != nil {
		return nil, false
	}
	return out, true
}

func (d dictCache) put(ctx context.Context, key string, entries []Entry) {
	if d.rdb == nil {
		return
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
	defer cancel()
	_ = d.rdb.Set(ctx, key, b, d.ttl).Err() // fails open: the next call fetches again
}

// dictionary returns a dictionary from the cache or from FIPS. Every
// dictionary is cached per credential (fips:dict:OP:CREDENTIAL): what one
// account was shown is never served to another, and a key FIPS no longer
// accepts gets FIPS's refusal, not another account's copy.
func (c *Client) dictionary(ctx context.Context, cred *tenant.Credential, op string) ([]Entry, error) {
	key := "fips:dict:" + op + ":" + cred.Name
	if out, ok := c.dict.get(ctx, key); ok {
		return out, nil
	}
	var out []Entry
	if _, _, err := c.doJSON(ctx, cred, call{op: op}, nil, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []Entry{}
	}
	c.dict.put(ctx, key, out)
	return out, nil
}

// ApplicantCategories lists the applicant categories; each Name is the full
// path sent as an application's category. Cached per credential.
func (c *Client) ApplicantCategories(ctx context.Context, cred *tenant.Credential) ([]Entry, error) {
	return c.dictionary(ctx, cred, OpListApplicantCategories)
}

// ApplicantDocumentTypes lists the account's own document templates. Cached
// per credential.
func (c *Client) ApplicantDocumentTypes(ctx context.Context, cred *tenant.Credential) ([]Entry, error) {
	return c.dictionary(ctx, cred, OpListApplicantDocumentTypes)
}

// DocumentTypes lists the common document templates (Code usable as a
// document's type, Name as its TypeTitle). Cached per credential.
func (c *Client) DocumentTypes(ctx context.Context, cred *tenant.Credential) ([]Entry, error) {
	return c.dictionary(ctx, cred, OpListDocumentTypes)
}
