package webhookstest

import (
	"net/http"
	"testing"
	"time"
)

// Verify, the reference implementation the delivery tests check every
// signature with, accepts the specification's published test vector and
// refuses what the specification says a receiver refuses.
func TestVerifySpecVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = "1614265330"
		sig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
		body   = `{"test": 2432232314}`
	)
	at := time.Unix(1614265330, 0)
	header := func(id, ts, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		return h
	}
	if err := Verify(secret, header(id, ts, sig), []byte(body), at, 5*time.Minute); err != nil {
		t.Errorf("Verify(spec vector) = %v, want nil", err)
	}
	if err := Verify(secret, header(id, ts, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+sig), []byte(body), at, 5*time.Minute); err != nil {
		t.Errorf("Verify(spec vector among other signatures) = %v, want nil", err)
	}
	for _, c := range []struct {
		name      string
		h         http.Header
		body      string
		now       time.Time
		tolerance time.Duration
	}{
		{"another body", header(id, ts, sig), `{"test": 2432232315}`, at, 5 * time.Minute},
		{"another id", header("msg_p5jXN8AQM9LWM0D4loKWxJel", ts, sig), body, at, 5 * time.Minute},
		{"another timestamp", header(id, "1614265331", sig), body, time.Unix(1614265331, 0), 5 * time.Minute},
		{"too old", header(id, ts, sig), body, at.Add(6 * time.Minute), 5 * time.Minute},
		{"too new", header(id, ts, sig), body, at.Add(-6 * time.Minute), 5 * time.Minute},
		{"another version", header(id, ts, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, at, 5 * time.Minute},
		{"no signature", header(id, ts, ""), body, at, 5 * time.Minute},
	} {
		if err := Verify(secret, c.h, []byte(c.body), c.now, c.tolerance); err == nil {
			t.Errorf("Verify(%s) = nil, want an error", c.name)
		}
	}
}
