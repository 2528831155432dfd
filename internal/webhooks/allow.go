package webhooks

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxURLLength bounds a callback URL.
const MaxURLLength = 2048

// Rule is one entry of a tenant's allow-list: a URL prefix. A callback
// matches when its scheme and host are the rule's (hosts compared
// case-insensitively, never by suffix), its port is the rule's (the
// scheme's default when the rule names none; "*" in the rule allows any
// port) and its path starts with the rule's path. A rule's path should end
// in "/": "https://hooks.example.com/legal" also admits "/legalese".
type Rule struct {
	scheme, host, port, path string
	anyPort                  bool
	raw                      string
}

func (r Rule) String() string { return r.raw }

// ParseRule parses an allow-list entry such as "https://hooks.example.com/"
// or "http://127.0.0.1:*/".
func ParseRule(s string) (Rule, error) {
	raw := s
	anyPort := false
	if i := strings.Index(s, ":*/"); i > 0 && strings.Count(s[:i], "/") == 2 {
		s, anyPort = s[:i]+s[i+2:], true
	} else if strings.HasSuffix(s, ":*") && strings.Count(s, "/") == 2 {
		s, anyPort = strings.TrimSuffix(s, ":*")+"/", true
	}
	u, err := url.Parse(s)
	if err != nil {
		return Rule{}, fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Rule{}, fmt.Errorf("the scheme must be http or https")
	}
	if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Rule{}, fmt.Errorf("want scheme://host[:port]/path-prefix, without user, query or fragment")
	}
	if anyPort && u.Port() != "" {
		return Rule{}, fmt.Errorf("a port and * at once")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return Rule{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: portOf(u), path: path, anyPort: anyPort, raw: raw}, nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// matches reports whether u is under r.
func (r Rule) matches(u *url.URL) bool {
	return u.Scheme == r.scheme && strings.ToLower(u.Hostname()) == r.host &&
		(r.anyPort || portOf(u) == r.port) && strings.HasPrefix(u.EscapedPath(), r.path)
}

// parseCallback checks the form of a callback URL: absolute http(s), a
// host, no user info or fragment, at most MaxURLLength bytes.
func parseCallback(s string) (*url.URL, error) {
	if len(s) > MaxURLLength {
		return nil, fmt.Errorf("is longer than %d bytes", MaxURLLength)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("is not an absolute URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("must use http or https")
	}
	if u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("must name a host, without user info or fragment")
	}
	if u.Port() != "" {
		if _, err := netip.ParseAddrPort(net.JoinHostPort("0.0.0.0", u.Port())); err != nil {
			return nil, fmt.Errorf("has an invalid port")
		}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// addressAllowed reports whether the gateway may connect to ip: never to an
// unspecified, multicast or link-local address (cloud metadata services live
// at 169.254.169.254 and fd00:ec2::254), nor to loopback, private (RFC 1918,
// unique local) or shared (100.64.0.0/10) addresses unless private is set.
func addressAllowed(ip netip.Addr, private bool) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), metadata.Contains(ip), thisNetwork.Contains(ip):
		return false
	case ip.IsLoopback(), ip.IsPrivate(), shared.Contains(ip):
		return private
	}
	return true
}

var (
	metadata    = netip.MustParsePrefix("fd00:ec2::254/128")
	shared      = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
)
