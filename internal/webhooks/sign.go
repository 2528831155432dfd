package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix marks a symmetric signing secret of the Standard Webhooks
// specification: "whsec_" followed by the base64 of 24 to 64 random bytes.
const SecretPrefix = "whsec_"

// Key is a decoded signing secret. It never prints.
type Key struct{ b []byte }

func (Key) String() string   { return "[redacted]" }
func (Key) GoString() string { return "[redacted]" }

// ParseKey decodes "whsec_" + base64 (padded or not; the prefix may be
// left out, as the specification's libraries allow) into a Key of 24 to 64
// bytes. Errors never repeat the secret.
func ParseKey(s string) (Key, error) {
	s = strings.TrimPrefix(s, SecretPrefix)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return Key{}, errors.New("not base64 after the whsec_ prefix")
	}
	if len(b) < 24 || len(b) > 64 {
		return Key{}, fmt.Errorf("decodes to %d bytes, want 24 to 64", len(b))
	}
	return Key{b: b}, nil
}

// Sign returns the webhook-signature header value of one message: for each
// key, "v1," + base64(HMAC-SHA256(key, id + "." + unix seconds + "." + body)),
// separated by spaces (two keys during a rotation).
func Sign(keys []Key, id string, ts time.Time, body []byte) string {
	var sb strings.Builder
	prefix := id + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	for i, k := range keys {
		mac := hmac.New(sha256.New, k.b)
		mac.Write([]byte(prefix))
		mac.Write(body)
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString("v1,")
		sb.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return sb.String()
}
