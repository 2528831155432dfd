package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The specification's libraries' published test vector.
func TestSignSpecVector(t *testing.T) {
	k := mustKey(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := Sign([]Key{k}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign(spec vector) = %s, want %s", got, want)
	}
}

// During a rotation both keys sign; a receiver holding either verifies.
func TestSignRotation(t *testing.T) {
	keys := []Key{mustKey(t, alphaSecret), mustKey(t, oldSecret)}
	now := time.Now()
	body := []byte(`{"type":"fssp.task.finished"}`)
	sig := Sign(keys, "msg_1", now, body)
	if n := len(strings.Split(sig, " ")); n != 2 {
		t.Fatalf("Sign(two keys) = %q: %d signatures, want 2", sig, n)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	for _, s := range []string{alphaSecret, oldSecret} {
		if err := verify(s, h, body, now, 5*time.Minute); err != nil {
			t.Errorf("verify(%s…) = %v, want nil", s[:10], err)
		}
	}
	if err := verify(betaSecret, h, body, now, 5*time.Minute); err == nil {
		t.Error("verify(another tenant's secret) = nil, want an error")
	}
	if err := verify(alphaSecret, h, append(body, ' '), now, 5*time.Minute); err == nil {
		t.Error("verify(changed body) = nil, want an error")
	}
}

func TestParseKey(t *testing.T) {
	for _, s := range []string{"whsec_", "whsec_!!!", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30)} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = nil error, want one", s)
		} else if strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) && len(s) > 6 {
			t.Errorf("ParseKey(%q) error %q repeats the secret", s, err)
		}
	}
	if k := mustKey(t, alphaSecret); k.String() != "[redacted]" {
		t.Errorf("Key.String() = %q, want [redacted]", k.String())
	}
}
